"""Reading indicator tables (CSV or XLSX) keyed by area code or area name; the write is in
``gis/indicator_store.py``.

A table gives one or more indicators: either one value column per indicator (with a fixed year or
none), or, in "wide" tables such as NSO's, one column per year (``year-2558-2015``). Every row's
area is matched to a DOPA code; unmatched names are reported with their row numbers, not guessed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

import geothai

from core.areas import CDD_REGIONS
from core.readers import FileProblem, read_table
from core.values import BadValue, is_blank
from indicators.matching import Match, check_code, match_province, match_region

LEVELS = ("region", "province", "district", "subdistrict", "village")
CELL_SHOWN = 80
"""A cell quoted in a report is cut to this many characters (a 1 MB cell is not repeated)."""

YEAR_COLUMN = re.compile(r"(?<!\d)(2[45]\d\d)(?!\d)")


class IndicatorImportError(RuntimeError):
    """The table was not loaded; the message names the rows and the problem."""


@dataclass(frozen=True)
class IndicatorSpec:
    id: str
    title_th: str
    title_en: str
    unit: str
    column: str | None = None  # the value column; None: the year columns of a wide table
    year: int | None = None    # B.E., for a single value column


@dataclass(frozen=True)
class TableSpec:
    file: str
    level: str  # region, province, district, subdistrict, village (LEVELS)
    keys: tuple[str, ...]  # code column, or name columns tried in order (Thai first)
    source: str
    licence: str
    indicators: tuple[IndicatorSpec, ...]


@dataclass(frozen=True)
class RowProblem:
    """One row's problem, said in Thai and English for the staff report (issue 23)."""

    row: int
    kind: str  # unmatched, ambiguous, duplicate, not_number, cell_too_long
    th: str
    en: str
    column: str | None = None
    suggestions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "kind": self.kind, "column": self.column, "th": self.th,
                "en": self.en, "suggestions": list(self.suggestions)}


def shown(value: object) -> str:
    text_ = str(value)
    return text_ if len(text_) <= CELL_SHOWN else text_[:CELL_SHOWN] + "…"


def suggestions(level: str, name: str, villages: Collection[str] = ()) -> tuple[str, ...]:
    """The closest names (or, for a village code, the subdistrict's known villages) to an
    unmatched area, for the report: a suggestion, never a guess applied."""
    text_ = str(name).strip()
    if level == "village":
        return tuple(sorted(v for v in villages if v[:6] == text_[:6]))[:5]
    if level == "region":
        names = [n for r in CDD_REGIONS.values() for n in (r.name_th, r.name_en)]
    elif level == "province" and not text_.isdigit():
        names = [n for p in geothai.provinces() for n in (p.name_th, p.name_en)]
    else:
        return ()
    return tuple(difflib.get_close_matches(text_, names, n=3, cutoff=0.5))


@dataclass
class TableReport:
    file: str
    rows: int = 0
    matched: int = 0
    values: int = 0
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    disagreements: list[tuple[int, str]] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.file}: {self.rows} rows, {self.matched} matched to DOPA codes, "
                 f"{self.values} values -> {', '.join(self.indicators)}"]
        lines += [f"  row {row}: no area matches {name!r}" for row, name in self.unmatched]
        lines += [f"  row {row}: {what}" for row, what in self.disagreements]
        return "\n".join(lines)


def _number(raw: object) -> float | None:
    if is_blank(raw):
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    text_ = str(raw).strip().replace(",", "")
    if text_ in ("-", "n/a", "NA", "na", "."):
        return None
    try:
        return float(text_)
    except ValueError as exc:
        raise BadValue(f"{raw!r} is not a number") from exc


def _village(code: str, villages: Collection[str]) -> Match:
    """A DOPA village code (subdistrict's six digits and the หมู่ที่ in two) that the layers
    know (the dashboards' villages, ``gis.summary``): a village unknown there has no page."""
    text_ = code.strip().removesuffix(".0")
    if text_.isdigit() and len(text_) == 8 and text_ in villages:
        return Match(code, text_, "code")
    return Match(code, None, "unmatched")


def _match(level: str, raw: dict[str, object], keys: tuple[str, ...],
           villages: Collection[str] = ()) -> tuple[Match | None, str | None]:
    """The row's area, and a note when its Thai and English names point at different areas."""
    found: list[Match] = []
    for column in keys:
        value = raw.get(column)
        if is_blank(value):
            continue
        if level == "region":
            found.append(match_region(str(value)))
        elif level == "province" and not str(value).strip().isdigit():
            found.append(match_province(str(value)))
        elif level == "village":
            found.append(_village(str(value), villages))
        else:
            found.append(check_code(str(value), level))
    codes = {m.code for m in found if m.code}
    if len(codes) > 1:
        return None, f"names disagree: {', '.join(f'{m.name!r}->{m.code}' for m in found)}"
    if not found:
        return None, None
    best = next((m for m in found if m.code), found[0])
    return best, None


def read_values(spec: TableSpec, path: Path, *, skip_unmatched: bool = False,
                collect: bool = False, villages: Collection[str] = (),
                ) -> tuple[list[tuple[str, str, int | None, float | None]], TableReport]:
    """The table's values (indicator, area code, year, value) and a report.

    With ``collect`` (the staff check) nothing is raised for a row: every row's problem is in
    ``report.problems`` (Thai and English) and the caller decides; ``villages`` are the village
    codes known, for a village-level table. A problem with the file as a whole still raises."""
    try:
        table = read_table(path)
    except FileProblem as exc:
        raise IndicatorImportError(str(exc)) from exc
    report = TableReport(file=path.name, rows=len(table.rows),
                         indicators=[i.id for i in spec.indicators])
    if not table.headers:
        raise IndicatorImportError(f"{path.name}: ไม่มีหัวตาราง / the table has no header row")
    missing = [k for k in spec.keys if k not in table.headers]
    if spec.keys and len(missing) == len(spec.keys):
        raise IndicatorImportError(f"{path.name}: no area column ({', '.join(spec.keys)}); "
                                   f"columns are {', '.join(table.headers)}")
    # No key named (a staff table): the first column is the area's
    keys = tuple(k for k in spec.keys if k in table.headers) or (table.headers[0],)
    wide = {int(m.group(1)): h for h in table.headers if (m := YEAR_COLUMN.search(h))
            and h not in keys}
    # A value column given as "" (a staff table): the first column after the area's
    others = [h for h in table.headers if h not in keys]
    spec = replace(spec, indicators=tuple(
        replace(i, column=others[0] if others else "(none)") if i.column == "" else i
        for i in spec.indicators))
    for ind in spec.indicators:
        if ind.column is not None and ind.column not in table.headers:
            raise IndicatorImportError(f"{path.name}: no column {ind.column!r} for {ind.id}")
        if ind.column is None and not wide:
            raise IndicatorImportError(f"{path.name}: no year columns (like year-2558-2015) "
                                       f"for {ind.id}")
    values: list[tuple[str, str, int | None, float | None]] = []
    seen: dict[str, int] = {}
    errors: list[str] = []
    problems = report.problems
    for number, raw in zip(table.row_numbers, table.rows, strict=True):
        extra = raw.pop("__extra__", None)
        if extra:
            problems.append(RowProblem(number, "cell_too_long", f"แถว {number}: {extra}",
                                       f"row {number}: {extra}"))
            errors.append(f"row {number}: {extra}")
            continue
        match, disagreement = _match(spec.level, raw, keys, villages)
        if disagreement:
            report.disagreements.append((number, disagreement))
            problems.append(RowProblem(
                number, "ambiguous", f"แถว {number}: ชื่อภาษาไทยและอังกฤษชี้คนละพื้นที่ ({disagreement})",
                f"row {number}: {disagreement}"))
            continue
        if match is None or match.code is None:
            name = match.name if match else "(blank)"
            report.unmatched.append((number, name))
            problems.append(RowProblem(
                number, "unmatched", f"แถว {number}: ไม่พบพื้นที่ {shown(name)!r}",
                f"row {number}: no {spec.level} matches {shown(name)!r}",
                suggestions=suggestions(spec.level, name, villages) if match else ()))
            continue
        if match.code in seen:
            errors.append(f"row {number}: {match.name!r} is the same area ({match.code}) as row "
                          f"{seen[match.code]}")
            problems.append(RowProblem(
                number, "duplicate",
                f"แถว {number}: {shown(match.name)!r} เป็นพื้นที่เดียวกับแถว {seen[match.code]} "
                f"({match.code})",
                f"row {number}: {shown(match.name)!r} is the same area ({match.code}) as row "
                f"{seen[match.code]}"))
            continue
        seen[match.code] = number
        report.matched += 1
        for ind in spec.indicators:
            columns = {ind.year: ind.column} if ind.column else wide
            for year, column in columns.items():
                try:
                    values.append((ind.id, match.code, year, _number(raw.get(column))))
                except BadValue:
                    errors.append(f"row {number}, column {column!r}: {raw.get(column)!r} is "
                                  "not a number")
                    problems.append(RowProblem(
                        number, "not_number",
                        f"แถว {number} คอลัมน์ {column!r}: {shown(raw.get(column))!r} ไม่ใช่ตัวเลข",
                        f"row {number}, column {column!r}: {shown(raw.get(column))!r} is not a "
                        "number", column=column))
    if collect:
        report.values = sum(1 for v in values if v[3] is not None)
        return values, report
    if (report.unmatched or report.disagreements) and not skip_unmatched:
        raise IndicatorImportError(
            f"{report.summary()}\nNothing was loaded: fix or remove those rows, or load the rest "
            "with --skip-unmatched.")
    if errors:
        shown_errors = "\n  ".join(errors[:20])
        raise IndicatorImportError(f"{path.name}: nothing was loaded:\n  {shown_errors}")
    report.values = sum(1 for v in values if v[3] is not None)
    return values, report
