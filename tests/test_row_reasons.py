"""Every reason a row can be refused for is in Thai and English (issue 24: some were English
only, so an officer who reads Thai could not tell what was wrong with a row).

No database: the reasons come from ``core.values.parse`` (one per field type) and the table
reader; the importer's own reasons are checked through real imports in test_layer_import.py."""

from __future__ import annotations

import re
from pathlib import Path

from core.readers import MAX_CELL_CHARS, open_table
from core.schema import Field
from core.values import BadValue, Converted, parse
from layers.definitions import LAYERS

THAI = re.compile("[\u0e01-\u0e4f]")
ENGLISH = re.compile("[A-Za-z]{3,}")

# Cells that are wrong for at least one field type each, as officers really type them.
BAD_CELLS: tuple[object, ...] = (
    "abc", "1.5", "1,2,3", "1e999", 10 ** 400, float("nan"), float("inf"), 12.5, "x" * 5000,
    "bad\x01cell", "\ud800", "13/13/2564", "30/02/2564", "2564-13-01", "maybe", "ftp://example.org",
    "https://example.org/" + "a" * 2100, "12", "1850", "ใหญ่มาก",
)


def _fields() -> list[Field]:
    seen: dict[str, Field] = {}
    for layer in LAYERS.values():
        for field in layer.fields:
            seen.setdefault(f"{layer.id}.{field.name}", field)
    return list(seen.values())


def _reasons() -> list[tuple[str, object, str]]:
    found = []
    for field in _fields():
        for cell in BAD_CELLS:
            try:
                parse(field, cell)
            except BadValue as refused:
                found.append((f"{field.type} {field.name}", cell, str(refused)))
            except Converted as note:
                found.append((f"{field.type} {field.name} (note)", cell, note.note))
    return found


def test_every_field_type_gives_reasons_for_bad_cells() -> None:
    # A NaN or infinite number in a phone column (a GeoPackage's REAL column) raised
    # ValueError out of the importer instead of a row reason.
    """The list below is not empty by accident: every type refuses at least one cell."""
    refused_types = {label.split()[0] for label, _, _ in _reasons()}
    declared = {f.type for f in _fields()}
    assert declared <= refused_types, declared - refused_types


def test_every_cell_reason_is_in_thai_and_english() -> None:
    reasons = _reasons()
    assert len(reasons) > 100
    one_language = [(field, cell, reason) for field, cell, reason in reasons
                    if not (THAI.search(reason) and ENGLISH.search(reason))]
    assert one_language == []


def test_the_readers_row_reasons_are_in_thai_and_english(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2,3\n4," + "x" * (MAX_CELL_CHARS + 1) + "\n", encoding="utf-8")
    problems = [r.problem for r in open_table(path).records if r.problem]
    assert len(problems) == 2
    for problem in problems:  # one problem per row here
        assert THAI.search(problem) and ENGLISH.search(problem), problem
