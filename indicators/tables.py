"""Reading indicator tables (CSV or XLSX) keyed by area code or area name; the write is in
``gis/indicator_store.py``.

A table gives one or more indicators: either one value column per indicator (with a fixed year or
none), or, in "wide" tables such as NSO's, one column per year (``year-2558-2015``). Every row's
area is matched to a DOPA code; unmatched names are reported with their row numbers, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from core.readers import FileProblem, read_table
from core.values import BadValue, is_blank
from indicators.matching import Match, check_code, match_province, match_region

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
    level: str  # region, province, subdistrict
    keys: tuple[str, ...]  # code column, or name columns tried in order (Thai first)
    source: str
    licence: str
    indicators: tuple[IndicatorSpec, ...]


@dataclass
class TableReport:
    file: str
    rows: int = 0
    matched: int = 0
    values: int = 0
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    disagreements: list[tuple[int, str]] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)

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


def _match(level: str, raw: dict[str, object], keys: tuple[str, ...],
           ) -> tuple[Match | None, str | None]:
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
                ) -> tuple[list[tuple[str, str, int | None, float | None]], TableReport]:
    try:
        table = read_table(path)
    except FileProblem as exc:
        raise IndicatorImportError(str(exc)) from exc
    report = TableReport(file=path.name, rows=len(table.rows),
                         indicators=[i.id for i in spec.indicators])
    missing = [k for k in spec.keys if k not in table.headers]
    if len(missing) == len(spec.keys):
        raise IndicatorImportError(f"{path.name}: no area column ({', '.join(spec.keys)}); "
                                   f"columns are {', '.join(table.headers)}")
    keys = tuple(k for k in spec.keys if k in table.headers)
    wide = {int(m.group(1)): h for h in table.headers if (m := YEAR_COLUMN.search(h))
            and h not in keys}
    for ind in spec.indicators:
        if ind.column is not None and ind.column not in table.headers:
            raise IndicatorImportError(f"{path.name}: no column {ind.column!r} for {ind.id}")
        if ind.column is None and not wide:
            raise IndicatorImportError(f"{path.name}: no year columns (like year-2558-2015) "
                                       f"for {ind.id}")
    values: list[tuple[str, str, int | None, float | None]] = []
    seen: dict[str, int] = {}
    errors: list[str] = []
    for number, raw in zip(table.row_numbers, table.rows, strict=True):
        match, disagreement = _match(spec.level, raw, keys)
        if disagreement:
            report.disagreements.append((number, disagreement))
            continue
        if match is None or match.code is None:
            report.unmatched.append((number, match.name if match else "(blank)"))
            continue
        if match.code in seen:
            errors.append(f"row {number}: {match.name!r} is the same area ({match.code}) as row "
                          f"{seen[match.code]}")
            continue
        seen[match.code] = number
        report.matched += 1
        for ind in spec.indicators:
            columns = {ind.year: ind.column} if ind.column else wide
            for year, column in columns.items():
                try:
                    values.append((ind.id, match.code, year, _number(raw.get(column))))
                except BadValue as exc:
                    errors.append(f"row {number}, column {column!r}: {exc}")
    if (report.unmatched or report.disagreements) and not skip_unmatched:
        raise IndicatorImportError(
            f"{report.summary()}\nNothing was loaded: fix or remove those rows, or load the rest "
            "with --skip-unmatched.")
    if errors:
        shown = "\n  ".join(errors[:20])
        raise IndicatorImportError(f"{path.name}: nothing was loaded:\n  {shown}")
    report.values = sum(1 for v in values if v[3] is not None)
    return values, report
