"""The tile byte budget at 1,000,000 points: no tile at z0-z8 passes ``BYTE_BUDGET``, no
personal value enters one, and the counts add up to every point.

Its own file (it was in tests/test_tiles.py) so that ``pytest -n 2 --dist loadfile`` can run it
on one worker while the rest of the tile tests run on the other: alone it is the longest test of
``make test-fast``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from core.schema import Field, Layer
from gis import tiles as gt
from gis.db import engine_for
from tests.test_tiles import THAILAND, ogr_read, tiles_over

SYNTHETIC = Layer(id="synthetic-1m", title_th="สังเคราะห์", title_en="Synthetic",
                  description_th="", key_field="key", name_field="key",
                  fields=(Field("key", "text", "", ""),
                          Field("secret", "text", "", "", personal=True)),
                  popup_fields=(), color="#000", icon="")


def test_no_tile_passes_the_budget_at_a_million_points(copy_database: Callable[..., str],
                                                       tmp_path: Path) -> None:
    engine = engine_for(copy_database("cddgis_test_tiles_1m", empty=True))
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.2564)"))
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, personal, geom)
            SELECT 'synthetic-1m', 'S' || i, 'S' || i, jsonb_build_object('key', 'S' || i),
                   jsonb_build_object('secret', 'SECRET' || i),
                   ST_SetSRID(ST_MakePoint(97.35 + random() * 8.3, 5.62 + random() * 14.8),
                              4326)
            FROM generate_series(1, 1000000) AS i
        """))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE layer_features"))
    for z in range(7):
        total = 0
        for x, y in tiles_over(THAILAND, z):
            tile = gt.get_tile(engine, SYNTHETIC, gt.TileFilters(), z, x, y)
            assert len(tile.data) <= gt.BYTE_BUDGET, (z, x, y, len(tile.data))
            assert b"SECRET" not in tile.data
            total += sum(int(f.fields["count"])
                         for f in ogr_read(tmp_path, tile.data, z, x, y))
        assert total == 1_000_000, z
    # z=8: ~16,000 points in a tile, too many bytes as points: it becomes a grid.
    x, y = gt.lonlat_to_tile(101.5, 13.0, 8)
    dense = gt.get_tile(engine, SYNTHETIC, gt.TileFilters(), 8, x, y)
    assert 10_000 < len(dense.data) <= gt.BYTE_BUDGET and b"count" in dense.data
    assert b"SECRET" not in dense.data
    assert sum(int(f.fields["count"]) for f in ogr_read(tmp_path, dense.data, 8, x, y)) > 10_000
    engine.dispose()

