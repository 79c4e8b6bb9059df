"""Prepares the three boundary levels for loading: read, decode, reconcile, repair, simplify.

Everything that can fail on the files happens here, before the database is touched; the write
(``gis/boundary_store.py``) then replaces all three levels atomically, so a failed load leaves the
previous boundaries as they were.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from boundaries.geometry import (
    DISPLAY_GRID,
    FULL_GRID,
    coverage_issues,
    for_geojson,
    repair,
    simplify_coverage,
)
from boundaries.registry import Issue, check_parent_codes, reconcile
from boundaries.sources import LEVELS, BoundarySourceError, LevelData, locate_sources, read_level
from core.areas import LEVELS_OF_DETAIL

TABLES = {"province": "provinces", "district": "districts", "subdistrict": "subdistricts"}
PARENT = {"district": "province", "subdistrict": "district"}
# A child whose area lies less than this share inside its parent is reported.
INSIDE_PARENT_MIN_SHARE = 0.95


class BoundaryLoadError(RuntimeError):
    """The load failed and nothing was changed in the database; the message says why."""


@dataclass
class LoadReport:
    load_id: int
    counts: dict[str, int]
    encodings: dict[str, str]
    issues: list[Issue] = field(default_factory=list)
    seconds: float = 0.0

    def issue_counts(self) -> dict[tuple[str, str], int]:
        return dict(Counter((i.level, i.kind) for i in self.issues))

    def summary(self) -> str:
        lines = [f"Loaded boundaries (load #{self.load_id}) in {self.seconds:.1f} s:"]
        for level in LEVELS:
            lines.append(f"  {TABLES[level]:<13} {self.counts[level]:>6}   "
                         f"(text encoding {self.encodings[level]})")
        if self.issues:
            lines.append("Noted (see table boundary_issues, or `cddgis boundaries issues`):")
            for (level, kind), n in sorted(self.issue_counts().items()):
                lines.append(f"  {level:<12} {kind:<22} {n:>5}")
        return "\n".join(lines)


def prepare(data_dir: Path) -> tuple[dict[str, LevelData], list[Issue]]:
    """Reads, decodes, reconciles, repairs and simplifies all three levels, without a database."""
    sources = locate_sources(data_dir)
    levels: dict[str, LevelData] = {}
    issues: list[Issue] = []
    for level in LEVELS:
        data = read_level(sources[level])
        frame = data.frame
        duplicated = frame["code"][frame["code"].duplicated()].unique()
        if len(duplicated):
            # Several features with one code are parts of one unit: merge them, say so.
            for code in duplicated:
                rows = frame.loc[frame["code"] == code, "row"].tolist()
                issues.append(Issue(level, code, "merged_duplicate",
                                    f"features {rows} share the code and were merged"))
            merged = frame.dissolve(by="code", aggfunc="first", as_index=False)
            data.frame = frame = merged[frame.columns]
        issues += reconcile(data)
        if level in PARENT:
            issues += check_parent_codes(data, set(levels[PARENT[level]].frame["code"]))
        codes = frame["code"].tolist()
        try:
            geoms, repaired = repair(level, codes, frame.geometry.values.to_numpy())
        except ValueError as exc:
            raise BoundarySourceError(f"{data.source.describe()}: {exc}") from exc
        issues += repaired
        issues += coverage_issues(level, codes, geoms)
        frame["geom_full"] = for_geojson(geoms, FULL_GRID)
        for lod, tolerance in LEVELS_OF_DETAIL.items():
            frame[f"geom_lod{lod}"] = for_geojson(simplify_coverage(geoms, tolerance),
                                                  DISPLAY_GRID)
        levels[level] = data
    return levels, issues


