"""Small boundary datasets cut from the real HDX files, written in the forms users bring."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio

REAL_FILES = {
    1: "tha_adm1_province_shp.zip",
    2: "tha_adm2_district_shp.zip",
    3: "tha_adm3_subdistrict_rtsd_20220121_shp.zip",
}
KEEP = ["ADM3_PCODE", "ADM3_TH", "ADM3_EN", "ADM2_PCODE", "ADM2_TH", "ADM2_EN", "ADM1_PCODE",
        "ADM1_TH", "ADM1_EN", "geometry"]


def read_real(data_dir: Path, adm: int, provinces: set[str]) -> gpd.GeoDataFrame:
    """The real file for one level, restricted to some provinces (the files are UTF-8)."""
    frame = pyogrio.read_dataframe(data_dir / "boundaries" / REAL_FILES[adm], encoding="UTF-8")
    frame = frame[frame["ADM1_PCODE"].str[2:].isin(provinces)]
    return frame[[c for c in KEEP if c in frame.columns]].reset_index(drop=True)


def write_shapefile_zip(frame: gpd.GeoDataFrame, folder: Path, name: str, *, encoding: str,
                        declared: str | None) -> Path:
    """Writes a zipped shapefile with text in ``encoding`` and a .cpg claiming ``declared``."""
    target = folder / f"{name}.zip"
    with tempfile.TemporaryDirectory(prefix="cddgis-shp-") as tmp:
        work = Path(tmp)
        pyogrio.write_dataframe(frame, work / f"{name}.shp", encoding=encoding)
        cpg = work / f"{name}.cpg"
        if declared is None:
            cpg.unlink(missing_ok=True)
        else:
            cpg.write_text(declared)
        with zipfile.ZipFile(target, "w") as zf:
            for part in work.iterdir():
                zf.write(part, part.name)
    return target


def make_dataset(data_dir: Path, folder: Path, provinces: set[str], *, form: str = "shp",
                 encoding: str = "utf-8", declared: str | None = None,
                 edit: dict[int, callable] | None = None) -> Path:
    """A folder holding adm1..adm3 for ``provinces`` as zipped shapefiles, GeoJSON or GPKG.

    ``edit`` maps a level to a function that changes its frame (to plant real-world faults).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for adm in (1, 2, 3):
        frame = read_real(data_dir, adm, provinces)
        if edit and adm in edit:
            frame = edit[adm](frame)
        name = f"tha_admbnda_adm{adm}_test"
        if form == "shp":
            write_shapefile_zip(frame, folder, name, encoding=encoding, declared=declared)
        elif form == "geojson":
            pyogrio.write_dataframe(frame, folder / f"{name}.geojson", driver="GeoJSON")
        elif form == "gpkg":
            pyogrio.write_dataframe(frame, folder / "tha_admin_test.gpkg", layer=name,
                                    driver="GPKG", append=adm > 1)
        else:
            raise ValueError(form)
    return folder
