"""OWSLib — the Python client GIS scripts use — reads the API definition, the queryables and
the items (with a CQL2 filter and a bbox) from the running app."""

from __future__ import annotations

from owslib.ogcapi.features import Features
from sqlalchemy import Engine, text


def test_owslib_reads_definition_queryables_and_items(live_server: str, engine: Engine) -> None:
    api = Features(f"{live_server}/api")
    definition = api.api()  # follows the landing page's service-desc link
    assert definition["openapi"].startswith("3.0")
    assert "/collections/khok-nong-na/items" in definition["paths"]
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in \
        api.conformance()["conformsTo"]
    ids = [c["id"] for c in api.collections()["collections"]]
    assert ids[:3] == ["provinces", "districts", "subdistricts"] and "khok-nong-na" in ids
    queryables = api.collection_queryables("khok-nong-na")["properties"]
    assert queryables["plot_size_rai"]["type"] == "number" and "owner_name" not in queryables

    items = api.collection_items("khok-nong-na", limit=5, filter="plot_size_rai > 10")
    with engine.connect() as conn:
        expected = conn.execute(text(
            "SELECT count(*) FROM layer_features WHERE layer = 'khok-nong-na' "
            "AND (properties->>'plot_size_rai')::numeric > 10")).scalar_one()
    assert items["numberMatched"] == expected and len(items["features"]) == 5
    assert all(f["properties"]["plot_size_rai"] > 10 for f in items["features"])
    boxed = api.collection_items("districts", bbox=[98.9, 18.7, 99.1, 18.9], limit=50)
    assert "5001" in {f["id"] for f in boxed["features"]}
    one = api.collection_item("districts", "5001")
    assert one["properties"]["name_en"] == "Mueang Chiang Mai"
