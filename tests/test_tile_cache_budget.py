"""The tile cache keeps within its budget (issue 25, item 1): 3,000 tile requests that differ
only in a filter value once grew ``tile_cache`` from 7.8 MB to 218 MB in 27 s from one client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gis import tiles as gt
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_tile_budget")
TILE = "/api/collections/khok-nong-na/tiles/WebMercatorQuad/10/793/457"  # Chiang Mai
MB = 2**20


def _plots(engine: Engine, count: int) -> None:
    """``count`` plots around Chiang Mai (raw SQL: the cache's triggers see them all)."""
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, geom)
            SELECT 'khok-nong-na', 'BUDGET-' || i, 'แปลง ' || i,
                   jsonb_build_object('plot_size_rai', 1 + i % 20, 'model_level', 'HLM',
                                      'budget_year', 2565),
                   ST_SetSRID(ST_MakePoint(98.80 + (i % 60) * 0.005, 18.66 + (i / 60) * 0.007),
                              4326)
            FROM generate_series(1, :n) AS i
        """), {"n": count})


def _cached_bytes(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        filtered, total = conn.execute(text(
            "SELECT coalesce(sum(octet_length(data)) FILTER (WHERE params <> ''), 0), "
            "coalesce(sum(octet_length(data)), 0) FROM tile_cache")).one()
    return int(filtered), int(total)


def test_three_thousand_distinct_filters_leave_the_cache_within_budget(
        copy_database: Callable[..., str], cluster: ClusterInfo, settings: Settings) -> None:
    engine = engine_for(copy_database(DB))
    _plots(engine, 2_400)
    app = create_app(dataclasses.replace(settings, tile_cache_mb=8, tile_cache_filtered_mb=1),
                     database_url=cluster.url(database=DB, role="app"))
    client: FlaskClient = app.test_client()
    unfiltered = client.get(TILE)
    assert unfiltered.status_code == 200 and len(unfiltered.data) > 10_000
    largest = len(unfiltered.data)
    for i in range(3_000):
        response = client.get(f"{TILE}?plot_size_rai_min=0.{i:04d}")
        assert response.status_code == 200, response.get_data(as_text=True)[:200]
        assert response.headers["X-Tile-Cache"] == "miss"
        largest = max(largest, len(response.data))
    filtered, total = _cached_bytes(engine)
    # Without a budget: 3,000 tiles of >10 kB, over 30 MB. With one: at most the budget and
    # the tiles of one check interval.
    slack = gt.CacheBudget().check_every * largest
    assert filtered <= 1 * MB + slack, (filtered, slack)
    assert total <= 8 * MB + slack
    # The newest filtered tile and the unfiltered one (another part) are still served cached.
    assert client.get(f"{TILE}?plot_size_rai_min=0.2999").headers["X-Tile-Cache"] == "hit"
    assert client.get(TILE).headers["X-Tile-Cache"] == "hit"


def test_eviction_takes_the_oldest_tiles_first(copy_database: Callable[..., str]) -> None:
    engine = engine_for(copy_database(DB + "_order"))
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO tile_cache (collection, fingerprint, params, z, x, y, envelope, data,
                                    etag, created_at)
            SELECT 'khok-nong-na', 'fp', 'p=' || i, 6, 49, 28,
                   ST_MakeEnvelope(98, 18, 99, 19, 4326), convert_to(repeat('x', 1000), 'UTF8'),
                   'e' || i, now() - make_interval(secs => 100 - i)
            FROM generate_series(1, 100) AS i
        """))
    deleted = gt.keep_within(engine, gt.CacheBudget(total_bytes=10**9, filtered_bytes=50_000,
                                                    keep=0.5))
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT params FROM tile_cache ORDER BY created_at")).scalars()
        kept_list = list(kept)
    assert deleted == 75 and kept_list == [f"p={i}" for i in range(76, 101)]
