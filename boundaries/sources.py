"""Finding and reading the admin boundary files (HDX COD-AB "cod-ab-tha").

Accepted forms: zipped or plain Shapefile, GeoJSON, GeoPackage, with HDX's field names
(``ADM1_PCODE`` = ``TH`` + DOPA code, ``ADM1_TH``, ``ADM1_EN``, …; any letter case).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from core.encodings import EncodingProblem, decode_text_columns

LEVELS = ("province", "district", "subdistrict")
ADM_NUMBER = {"province": 1, "district": 2, "subdistrict": 3}
CODE_LENGTH = {"province": 2, "district": 4, "subdistrict": 6}
SUFFIXES = (".zip", ".shp", ".geojson", ".json", ".gpkg")
HDX_HINT = (
    "Download Thailand's admin boundaries (Shapefile, GeoJSON or GeoPackage) from HDX:\n"
    "    https://data.humdata.org/dataset/cod-ab-tha\n"
    "put the adm1/adm2/adm3 files in one folder, then run\n"
    "    cddgis load boundaries /path/to/folder\n"
    "or set CDDGIS_DATA_DIR to the folder that holds boundaries/."
)


class BoundarySourceError(ValueError):
    """A boundary file is missing or cannot be used; the message names the file and the problem."""


@dataclass
class SourceFile:
    level: str
    path: Path
    layer: str | None = None

    def describe(self) -> str:
        return f"{self.path.name}" + (f" (layer {self.layer})" if self.layer else "")


@dataclass
class LevelData:
    """One level's features, with codes parsed and text decoded, as read from the file."""

    source: SourceFile
    frame: gpd.GeoDataFrame  # columns: row, code, parent_code, name_th, name_en, geometry
    encoding: str | None
    notes: list[str] = field(default_factory=list)


def _adm_pattern(level: str) -> re.Pattern[str]:
    return re.compile(rf"adm{ADM_NUMBER[level]}(?![0-9])", re.IGNORECASE)


def _gpkg_layer(path: Path, level: str) -> str | None:
    layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    matching = [name for name in layers if _adm_pattern(level).search(name)]
    if len(matching) == 1:
        return matching[0]
    if len(layers) == 1 and _adm_pattern(level).search(path.name):
        return layers[0]
    return None


def locate_sources(data_dir: Path) -> dict[str, SourceFile]:
    """Finds one file (or GeoPackage layer) per level in ``data_dir`` or its ``boundaries/``."""
    folders = [data_dir / "boundaries", data_dir]
    folders = [f for f in folders if f.is_dir()]
    if not folders:
        raise BoundarySourceError(f"The data folder {data_dir} does not exist.\n{HDX_HINT}")
    candidates = sorted({p for f in folders for p in f.iterdir()
                         if p.is_file() and p.suffix.lower() in SUFFIXES})
    found: dict[str, SourceFile] = {}
    missing: list[str] = []
    for level in LEVELS:
        matches: list[SourceFile] = []
        for path in candidates:
            if path.suffix.lower() == ".gpkg":
                layer = _gpkg_layer(path, level)
                if layer:
                    matches.append(SourceFile(level, path, layer))
            elif _adm_pattern(level).search(path.name):
                matches.append(SourceFile(level, path))
        # A plain .shp and the .zip holding it are the same data: prefer the zip.
        names = {m.path.stem for m in matches if m.path.suffix.lower() == ".zip"}
        matches = [m for m in matches if not (m.path.suffix.lower() == ".shp"
                                              and m.path.stem in names)]
        if not matches:
            missing.append(f"ADM{ADM_NUMBER[level]} ({level})")
        elif len(matches) > 1:
            listed = ", ".join(m.describe() for m in matches)
            raise BoundarySourceError(
                f"Several {level} files in {folders[0]}: {listed}. Keep one, or point "
                "`cddgis load boundaries DIR` at a folder with one file per level.")
        else:
            found[level] = matches[0]
    if missing:
        raise BoundarySourceError(
            f"No boundary file for {', '.join(missing)} in {data_dir}.\n{HDX_HINT}")
    return found


def _column(frame: pd.DataFrame, name: str, describe: str, required: bool = True) -> str | None:
    by_lower = {str(c).lower(): str(c) for c in frame.columns}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    if required:
        raise BoundarySourceError(
            f"{describe}: no column {name}. Columns are: "
            + ", ".join(str(c) for c in frame.columns if c != "geometry"))
    return None


def _clean_code(raw: object, length: int) -> str | None:
    if raw is None or (isinstance(raw, float) and pd.isna(raw)):
        return None
    text = str(raw).strip().upper().removeprefix("TH")
    if text.endswith(".0"):  # codes stored as numbers
        text = text[:-2]
    text = text.zfill(length) if text.isdigit() and len(text) == length - 1 else text
    return text if re.fullmatch(rf"[0-9]{{{length}}}", text) else None


def read_level(source: SourceFile) -> LevelData:
    """Reads one level into a frame with parsed codes and decoded Thai text.

    Raises BoundarySourceError naming the file and, for bad rows, the feature numbers.
    """
    level, path = source.level, source.path
    describe = source.describe()
    is_shapefile = path.suffix.lower() in (".zip", ".shp")
    try:
        frame = pyogrio.read_dataframe(
            path, layer=source.layer, encoding="ISO-8859-1" if is_shapefile else None)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise BoundarySourceError(f"{describe}: cannot be read as {level} boundaries ({exc})") \
            from exc
    if len(frame) == 0:
        raise BoundarySourceError(f"{describe}: has no features")
    try:
        encoding = decode_text_columns(frame, describe) if is_shapefile else "utf-8"
    except EncodingProblem as exc:
        raise BoundarySourceError(str(exc)) from exc

    n = ADM_NUMBER[level]
    code_col = _column(frame, f"ADM{n}_PCODE", describe)
    th_col = _column(frame, f"ADM{n}_TH", describe)
    en_col = _column(frame, f"ADM{n}_EN", describe)
    parent_col = _column(frame, f"ADM{n - 1}_PCODE", describe, required=n > 1) if n > 1 else None

    if frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise BoundarySourceError(f"{describe}: has no coordinate system and its "
                                      "coordinates are not longitude/latitude")
        frame = frame.set_crs(4326)
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)

    errors: list[str] = []
    rows = []
    length = CODE_LENGTH[level]
    for i, record in enumerate(frame.itertuples(index=False), start=1):
        values = record._asdict()
        code = _clean_code(values[code_col], length)
        if code is None:
            errors.append(f"feature {i}: {code_col} {values[code_col]!r} is not a "
                          f"{length}-digit DOPA code")
            continue
        geometry = values["geometry"]
        if geometry is None or geometry.is_empty:
            errors.append(f"feature {i} (code {code}): has no geometry")
            continue
        if geometry.geom_type not in ("Polygon", "MultiPolygon"):
            errors.append(f"feature {i} (code {code}): geometry is {geometry.geom_type}, "
                          "not a polygon")
            continue
        parent = _clean_code(values[parent_col], length - 2) if parent_col else None
        rows.append({
            "row": i,
            "code": code,
            "parent_code": parent,
            "name_th": (values[th_col] or "").strip() or None,
            "name_en": (values[en_col] or "").strip() or None,
            "geometry": geometry,
        })
    if errors:
        shown = "\n  ".join(errors[:20])
        more = f"\n  … and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise BoundarySourceError(f"{describe}: {len(errors)} bad feature(s):\n  {shown}{more}")
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
    return LevelData(source=source, frame=out, encoding=encoding)
