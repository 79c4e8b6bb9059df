"""Loads the sample layers (``layers/sample.py`` makes them) through the normal importer."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

from sqlalchemy import Engine, text

from gis.layer_store import import_file, layer_count
from layers import sample
from layers.definitions import LAYERS
from layers.importer import ImportReport


def subdistrict_places(engine: Engine, seed: int) -> dict[str, list[sample.Place]]:
    """Three random points inside each real subdistrict, for machines without the village file."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT code, ST_X(p), ST_Y(p) FROM (
                SELECT code, (ST_Dump(ST_GeneratePoints(geom, 3, :seed))).geom AS p
                FROM subdistricts) s
            ORDER BY code
        """), {"seed": seed}).all()
    by_province: dict[str, list[sample.Place]] = defaultdict(list)
    for code, lon, lat in rows:
        by_province[code[:2]].append(sample.Place(None, code, lon, lat))
    return by_province


def load_samples(engine: Engine, data_dir: Path, *, only_if_empty: bool = False,
                 seed: int = 2564, layers: list[str] | None = None) -> list[ImportReport]:
    """Generates each layer's sample and imports it (as sample) through the normal importer."""
    todo = [layer_id for layer_id in layers or list(LAYERS)
            if not (only_if_empty and layer_count(engine, layer_id) > 0)]
    if not todo:  # nothing to do: the 65,000 village places are not read for nothing
        return []
    places = sample.village_places(data_dir) or subdistrict_places(engine, seed)
    reports = []
    with tempfile.TemporaryDirectory(prefix="cddgis-sample-") as tmp:
        for layer_id in todo:
            layer = LAYERS[layer_id]
            path = sample.write_csv(layer, sample.generate(layer, places, seed), Path(tmp))
            reports.append(import_file(engine, layer, path, sample=True, valid_only=True))
    return reports
