"""Reconciling the boundary files with the official DOPA registry (PyPI ``geothai``).

The registry's names are the official ones and are what we store. The file's names are kept
beside them. Codes in one and not the other are flagged, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geothai
from geothai import normalize
from geothai.abolished import abolished_areas

from boundaries.sources import LevelData


@dataclass(frozen=True)
class Issue:
    level: str
    code: str | None
    kind: str
    detail: str


def registry_version() -> str:
    return f"geothai {geothai.DATA_VERSION}"


def _official(level: str) -> dict[str, Any]:
    if level == "province":
        return {p.code: p for p in geothai.provinces()}
    if level == "district":
        return {d.code: d for p in geothai.provinces() for d in geothai.districts(p.code)}
    return {s.code: s for p in geothai.provinces() for d in geothai.districts(p.code)
            for s in geothai.subdistricts(d.code)}


def reconcile(data: LevelData) -> list[Issue]:
    """Puts official names into ``data.frame`` (name_th, name_en, in_registry) and lists issues."""
    level = data.source.level
    official = _official(level)
    abolished = {a.code: a for a in abolished_areas()}
    frame = data.frame
    issues: list[Issue] = []
    names_th, names_en, in_registry = [], [], []
    for row in frame.itertuples(index=False):
        entry = official.get(row.code)
        if entry is None:
            names_th.append(row.name_th or row.code)
            names_en.append(row.name_en or row.code)
            in_registry.append(False)
            gone = abolished.get(row.code)
            if gone is not None:
                successors = " ".join(gone.successors) or "none listed"
                detail = (f"{row.name_th} / {row.name_en}: abolished by DOPA on "
                          f"{gone.abolished_on}; successor codes: {successors}. Kept with the "
                          "file's names.")
            else:
                detail = (f"{row.name_th} / {row.name_en}: not in the DOPA registry. Kept with "
                          "the file's names.")
            issues.append(Issue(level, row.code, "not_in_registry", detail))
            continue
        names_th.append(entry.name_th)
        names_en.append(entry.name_en)
        in_registry.append(True)
        same_th = normalize(row.name_th or "") == normalize(entry.name_th)
        same_en = normalize(row.name_en or "") == normalize(entry.name_en)
        if not (same_th and same_en):
            issues.append(Issue(
                level, row.code, "name_differs",
                f"file: {row.name_th} / {row.name_en}; registry: {entry.name_th} / "
                f"{entry.name_en} (registry names stored)"))
    frame["source_name_th"] = frame["name_th"]
    frame["source_name_en"] = frame["name_en"]
    frame["name_th"] = names_th
    frame["name_en"] = names_en
    frame["in_registry"] = in_registry

    present = set(frame["code"])
    for code, entry in sorted(official.items()):
        if code not in present:
            issues.append(Issue(
                level, code, "missing_geometry",
                f"{entry.name_th} / {entry.name_en} is in the DOPA registry but has no "
                f"geometry in {data.source.describe()} (newer than the file?)"))
    return issues


def check_parent_codes(data: LevelData, parent_codes: set[str]) -> list[Issue]:
    """DOPA codes embed their parent: the file's parent column and the parent level must agree."""
    level = data.source.level
    issues: list[Issue] = []
    for row in data.frame.itertuples(index=False):
        prefix = row.code[:-2]
        if row.parent_code and row.parent_code != prefix:
            issues.append(Issue(level, row.code, "parent_code_mismatch",
                                f"file says parent {row.parent_code}, code says {prefix}; "
                                "the code's parent is used"))
        if prefix not in parent_codes:
            issues.append(Issue(level, row.code, "parent_missing",
                                f"parent {prefix} is not among the loaded boundaries"))
    return issues
