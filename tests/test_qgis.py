"""QGIS 3.22 itself (Debian's ``qgis`` and ``python3-qgis``, headless) against the running app:
every collection through QGIS's OGC API - Features provider (OAPIF) with the API's counts and
Thai text intact, a date subset counted as the API counts it, a full read paged by the page size
the OpenAPI declares, and the vector tiles drawn by a ``QgsVectorTileLayer``.

PyQGIS runs under Debian's ``/usr/bin/python3``, so QGIS is driven in a subprocess
(``tests/qgis_client.py``). The server's own record of the requests (``served_counting``) is
what shows how QGIS paged and that a filter reached the server."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

import pytest
from flask import Flask

from tests.serving import served_counting

DEBIAN_PYTHON = "/usr/bin/python3"
CLIENT = Path(__file__).with_name("qgis_client.py")
QGIS_LARGEST_PAGE = 1000
"""QGIS 3.22 asks for at most 1000 per page whatever the server allows (seen on the wire with
``maximum`` 10,000)."""
THAI = re.compile(r"[\u0e00-\u0e7f]")


def qgis(args: dict[str, Any], profile: Path) -> Any:
    """Runs ``tests/qgis_client.py`` under Debian's Python; its JSON answer. Fails (never
    skips) when QGIS is not installed: `make test` installs it."""
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import qgis.core"], capture_output=True,
                           text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    if probe.returncode != 0:
        pytest.fail("QGIS (PyQGIS) is missing: run `make setup-test` (scripts/setup.sh --test "
                    f"installs Debian's qgis and python3-qgis). {probe.stderr[-300:]}",
                    pytrace=False)
    run = subprocess.run(
        [DEBIAN_PYTHON, str(CLIENT), json.dumps({**args, "profile": str(profile)})],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])["result"]


def _get(url: str) -> Any:
    with urlopen(url, timeout=60) as response:
        return json.load(response)


def _uri(base: str, collection: str) -> str:
    """The data source as QGIS's "Add OGC API - Features layer" dialog writes it: no page
    size, so QGIS chooses it from the OpenAPI document."""
    return f"url='{base}/api' typename='{collection}'"


def _declared_limit(api: dict[str, Any], collection: str) -> dict[str, Any]:
    """The schema of ``limit`` on the collection's items path, through its ``$ref``."""
    for param in api["paths"][f"/collections/{collection}/items"]["get"]["parameters"]:
        if "$ref" in param:
            param = api["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        if param["name"] == "limit":
            return param["schema"]
    raise AssertionError("no limit on the items path")


def _items(seen: list[str], collection: str) -> list[dict[str, list[str]]]:
    path = f"/api/collections/{collection}/items"
    return [parse_qs(urlsplit(u).query) for u in seen if urlsplit(u).path == path]


def test_every_collection_reads_with_the_apis_counts_and_thai_text(
        app: Flask, tmp_path: Path) -> None:
    with served_counting(app) as (base, _):
        ids = [c["id"] for c in _get(f"{base}/api/collections")["collections"]]
        read = qgis({"do": "read", "sample": 5, "geometry": False,
                     "layers": [{"name": c, "uri": _uri(base, c)} for c in ids]}, tmp_path)
        for collection, got in zip(ids, read, strict=True):
            assert got["valid"], got
            first = _get(f"{base}/api/collections/{collection}/items?limit=5")
            assert got["count"] == first["numberMatched"] > 0, (collection, got["messages"])
            # The first features are the API's first page, in its order, text unchanged.
            for mine, theirs in zip(got["sample"], first["features"], strict=True):
                for name, value in theirs["properties"].items():
                    if isinstance(value, str):
                        assert mine[name] == value, (collection, name)
            texts = [v for f in got["sample"] for v in f.values() if isinstance(v, str)]
            assert any(THAI.search(t) for t in texts), collection
            assert not any("\ufffd" in t or "à¸" in t for t in texts), collection


def test_a_date_subset_counts_what_the_apis_datetime_counts(app: Flask, tmp_path: Path) -> None:
    with served_counting(app) as (base, seen):
        expected = _get(f"{base}/api/collections/plant-genetics-trees/items"
                        "?datetime=2020-01-01/..&limit=1")["numberMatched"]
        total = _get(f"{base}/api/collections/plant-genetics-trees/items?limit=1")
        del seen[:]
        [got] = qgis({"do": "read", "geometry": False, "layers": [{
            "name": "trees", "uri": _uri(base, "plant-genetics-trees"),
            "subset": "\"recorded_on\" >= '2020-01-01'"}]}, tmp_path)
        assert got["count"] == expected, got.get("messages")
        assert 0 < expected < total["numberMatched"]
        # QGIS turned the subset into datetime: the server did the filtering.
        pages = [q for q in _items(seen, "plant-genetics-trees") if q.get("limit") != ["10"]]
        assert pages and all("datetime" in q for q in pages), pages


def test_a_full_read_pages_by_the_declared_page_size(app: Flask, tmp_path: Path) -> None:
    with served_counting(app) as (base, seen):
        limit = _declared_limit(_get(f"{base}/api/openapi"), "khok-nong-na")
        total = _get(f"{base}/api/collections/khok-nong-na/items?limit=1")["numberMatched"]
        del seen[:]
        [got] = qgis({"do": "read", "layers": [{
            "name": "plots", "uri": _uri(base, "khok-nong-na")}]}, tmp_path)
        assert got["count"] == total == 22_791
        asked = _items(seen, "khok-nong-na")
        # QGIS first reads one page of 10 to learn the fields, then pages through the layer.
        pages = [q for q in asked if q.get("limit") != ["10"]]
        # QGIS 3.22 takes limit's maximum from components/parameters (capped at its own 1000
        # per page): 23 requests for 22,791 plots, not the 228 of its fallback of 100.
        size = min(limit["maximum"], QGIS_LARGEST_PAGE)
        assert {q["limit"][0] for q in pages} == {str(size)}, pages[:3]
        assert len(pages) == math.ceil(total / size)
        assert all("offset" not in q for q in pages)  # next links by key, as the API gives


def test_the_vector_tiles_render_in_qgis(app: Flask, tmp_path: Path) -> None:
    with served_counting(app) as (base, seen):
        template = f"{base}/api/collections/khok-nong-na/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
        got = qgis({"do": "render", "tiles": template, "zmax": 14, "size": 256,
                    "png": str(tmp_path / "plots"),
                    # Udon Thani and around, where plots are; the Andaman Sea, where none are.
                    "extents": [[102.0, 16.5, 103.5, 18.0], [94.0, 8.0, 95.5, 9.5]]},
                   tmp_path)
        assert got["valid"], got
        where_data, sea = got["pixels"]
        assert where_data > 100, got
        assert sea == 0, got
        assert any("/tiles/WebMercatorQuad/" in u for u in seen)
