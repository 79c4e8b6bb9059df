"""Village points (หมู่บ้าน), used to find a place by name.

The open file (``points/th_villages_2012.csv``, origin TH_VILLAGE2012) is for development and
tests only: its producer and licence are not stated, so cddgis reads it from the data folder and
never ships it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from psycopg2.extras import execute_values
from sqlalchemy import Engine, text

from gis.places import village_key

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


def load_villages(engine: Engine, data_dir: Path) -> VillageReport:
    path = data_dir / VILLAGE_FILE
    if not path.exists():
        raise VillageLoadError(f"{path} is missing; place names will resolve to provinces, "
                               "districts and subdistricts only")
    report = VillageReport()
    rows = []
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
            codes = [(row.get(c) or "").strip() or None
                     for c in ("subdistrict_code", "district_code", "province_code")]
            rows.append((name, village_key(name), *codes, lon, lat, path.name))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM villages"))
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            execute_values(cur, """
                INSERT INTO villages (name_th, search_key, subdistrict_code, district_code,
                                      province_code, geom, source)
                SELECT v.name, v.key, v.s, v.d, v.p, ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326),
                       v.source
                FROM (VALUES %s) AS v(name, key, s, d, p, lon, lat, source)
            """, rows, page_size=5000)
    report.loaded = len(rows)
    return report


def villages_loaded(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM villages)")).scalar())
