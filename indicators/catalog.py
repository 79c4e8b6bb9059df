"""The indicator tables in the open data folder (``indicators/``), declared as data in
``indicators/catalog.json`` (issue 23, item 3): adding a table is an entry there, no Python.

A declaration that does not fit (an unknown level, a missing field, a wrong type) stops the
load with the entry's number and file named, before anything is read or written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indicators.tables import LEVELS, IndicatorImportError, IndicatorSpec, TableSpec

CATALOG = Path(__file__).with_name("catalog.json")
_TABLE_FIELDS: dict[str, type] = {"file": str, "level": str, "keys": list, "source": str,
                                  "licence": str, "indicators": list}
_INDICATOR_FIELDS: dict[str, type] = {"id": str, "title_th": str, "title_en": str, "unit": str}


def _checked(entry: Any, fields: dict[str, type], where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise IndicatorImportError(f"{where}: a declaration is an object")
    for name, kind in fields.items():
        if not isinstance(entry.get(name), kind) or entry.get(name) in ("", []):
            raise IndicatorImportError(f"{where}: {name!r} is missing or not a {kind.__name__}")
    return entry


def _table(entry: Any, where: str) -> TableSpec:
    entry = _checked(entry, _TABLE_FIELDS, where)
    where = f"{where} ({entry['file']})"
    if entry["level"] not in LEVELS:
        raise IndicatorImportError(f"{where}: level must be one of {', '.join(LEVELS)}; got "
                                   f"{entry['level']!r}")
    indicators = []
    for n, raw in enumerate(entry["indicators"], 1):
        ind = _checked(raw, _INDICATOR_FIELDS, f"{where}, indicator {n}")
        column, year = ind.get("column"), ind.get("year")
        if column is not None and not isinstance(column, str):
            raise IndicatorImportError(f"{where}, indicator {n}: 'column' is a column name")
        if year is not None and not (isinstance(year, int) and 2400 <= year <= 2700):
            raise IndicatorImportError(f"{where}, indicator {n}: 'year' is a B.E. year")
        indicators.append(IndicatorSpec(ind["id"], ind["title_th"], ind["title_en"],
                                        ind["unit"], column, year))
    return TableSpec(file=entry["file"], level=entry["level"],
                     keys=tuple(str(k) for k in entry["keys"]), source=entry["source"],
                     licence=entry["licence"], indicators=tuple(indicators))


def read_catalog(path: Path = CATALOG) -> tuple[TableSpec, ...]:
    """The declarations of ``path`` (default: the repository's ``catalog.json``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndicatorImportError(f"{path.name}: cannot be read as JSON: {exc}") from exc
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, list):
        raise IndicatorImportError(f"{path.name}: a 'tables' list is expected")
    specs = tuple(_table(t, f"{path.name}, table {n}") for n, t in enumerate(tables, 1))
    ids = [i.id for s in specs for i in s.indicators]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise IndicatorImportError(f"{path.name}: indicator ids declared twice: {', '.join(twice)}")
    return specs


TABLES: tuple[TableSpec, ...] = read_catalog()
