"""Village points (หมู่บ้าน), used to find a place by name.

The open file (``points/th_villages_2012.csv``, origin TH_VILLAGE2012) is for development and
tests only: its producer and licence are not stated, so cddgis reads it from the data folder and
never ships it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from core.areas import village_key

VILLAGE_FILE = Path("points") / "th_villages_2012.csv"
THAILAND_BBOX = (97.3, 5.6, 105.7, 20.5)


class VillageLoadError(RuntimeError):
    """The village file is missing or unusable; nothing was changed."""


@dataclass
class VillageReport:
    loaded: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in self.skipped.items()) or "none"
        return f"Loaded {self.loaded:,} villages; skipped: {skipped}"


VillageRow = tuple[str, str, str | None, str | None, str | None, float, float, str]
"""name, search key, subdistrict, district, province code, lon, lat, source file."""


def read_villages(data_dir: Path) -> tuple[list[VillageRow], VillageReport]:
    """The usable village points of the file, and what was skipped and why."""
    path = data_dir / VILLAGE_FILE
    if not path.exists():
        raise VillageLoadError(f"{path} is missing; place names will resolve to provinces, "
                               "districts and subdistricts only")
    report = VillageReport()
    rows: list[VillageRow] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"name_th", "lon", "lat"} - set(reader.fieldnames or [])
        if missing:
            raise VillageLoadError(f"{path.name}: no column(s) {', '.join(sorted(missing))}")
        for row in reader:
            name = (row.get("name_th") or "").strip()
            try:
                lon, lat = float(row["lon"]), float(row["lat"])
            except (TypeError, ValueError):
                report.skipped["without coordinates"] = report.skipped.get(
                    "without coordinates", 0) + 1
                continue
            x0, y0, x1, y1 = THAILAND_BBOX
            if not (x0 <= lon <= x1 and y0 <= lat <= y1):
                report.skipped["outside Thailand"] = report.skipped.get("outside Thailand", 0) + 1
                continue
            if not name or not village_key(name):
                report.skipped["without a name"] = report.skipped.get("without a name", 0) + 1
                continue
            s_code, d_code, p_code = ((row.get(c) or "").strip() or None
                                      for c in ("subdistrict_code", "district_code",
                                                "province_code"))
            rows.append((name, village_key(name), s_code, d_code, p_code, lon, lat, path.name))
    report.loaded = len(rows)
    return rows, report
