"""Offline in the field (issue 24, item 4): the tour and the staff map as an installable web
app. The manifest, its icons (drawn with Pillow from favicon.svg's two shapes), the service
worker at ``/sw.js`` (its scope must cover ``/tour`` and ``/staff``, so it is served from the
root rather than ``/static/``), the app shell it caches on install, the plan of what to fetch
to keep one province (features, basemap tiles at a bounded zoom range, with a size estimate
before anything is downloaded) and a fresh CSRF token for edits queued while offline.

The service worker and the page script are ``static/js/sw.js`` and ``static/js/offline.js``;
how staff use it is in docs/offline.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf  # type: ignore[import-untyped]
from PIL import Image, ImageDraw

from core.errors import BadParameter, NotFound
from gis import offline as store
from gis import tiles as gt
from web.auth import signed_in
from web.services import engine

offline = Blueprint("offline", __name__)

MAX_TILES = 3000
"""The most tiles one kept province may hold: the highest zooms are left out until it fits."""
MIN_ZOOM, MAX_ZOOM = 0, 14
"""From the country's view (one or two tiles a zoom over a province) to street level."""
ICON_SIZES = (192, 512)
SHELL_GLOBS = ("favicon.svg", "js/*.js", "css/*.css", "vendor/leaflet-1.9.3/**/*.*",
               "vendor/protomaps-leaflet-5.1.0/*.js", "vendor/sarabun-5.3.0/*.*")
"""The app shell: the pages' own scripts, styles and fonts, and the map libraries (not ECharts
or axe-core, which the tour and the staff map do not load)."""
TILE_SAMPLES = 6
"""Basemap tiles made to estimate the size of the rest (evenly spread over the list)."""


def _static() -> Path:
    return Path(current_app.static_folder or "")


@cache
def _shell_files(static_dir: Path) -> tuple[tuple[str, ...], str]:
    """The shell's files (relative paths) and a version made from their content: a change to
    any of them gives a new ``/sw.js?v=…`` and so a new service worker with a fresh shell."""
    names = sorted({p.relative_to(static_dir).as_posix() for pattern in SHELL_GLOBS
                    for p in static_dir.glob(pattern) if p.is_file() and p.name != "sw.js"
                    and not p.name.startswith("LICENSE")})
    digest = hashlib.sha256()
    for name in [*names, "js/sw.js"]:
        digest.update(name.encode())
        digest.update((static_dir / name).read_bytes())
    return tuple(names), digest.hexdigest()[:12]


def shell_version() -> str:
    """For the pages: the service worker's address carries it."""
    return _shell_files(_static())[1]


@offline.app_context_processor
def offline_context() -> dict[str, object]:
    return {"offline_config": lambda: {"sw": url_for("offline.service_worker",
                                                     v=shell_version()),
                                       "plan": url_for("offline.province_plan", code="00"),
                                       "csrf": url_for("offline.fresh_csrf")}}


@offline.get("/manifest.webmanifest")
def manifest() -> ResponseReturnValue:
    """The web app manifest: Thai name first; the tour is where it opens, the staff map a
    shortcut."""
    body = {
        "name": "cddgis เที่ยวชุมชนและงานภาคสนาม / CDD tour and field work",
        "short_name": "cddgis",
        "description": "แผนที่เที่ยวชุมชนและแผนที่งานของเจ้าหน้าที่ ใช้ได้แม้ไม่มีเครือข่าย / "
                       "The village tour and the staff map, usable with no network",
        "lang": "th", "dir": "ltr",
        "id": url_for("tour.tour_index"),
        "start_url": url_for("tour.tour_index"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#7c2d12",
        "icons": [
            *({"src": url_for("offline.icon", size=s), "sizes": f"{s}x{s}", "type": "image/png",
               "purpose": "any"} for s in ICON_SIZES),
            {"src": url_for("offline.icon", size=512, maskable=1), "sizes": "512x512",
             "type": "image/png", "purpose": "maskable"},
            {"src": url_for("static", filename="favicon.svg"), "sizes": "any",
             "type": "image/svg+xml"},
        ],
        "shortcuts": [{"name": "แผนที่งานเจ้าหน้าที่ / Staff map",
                       "url": url_for("staff_features.layers")}],
    }
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")


@cache
def icon_png(size: int, maskable: bool) -> bytes:
    """favicon.svg drawn at ``size``: the brown rounded square (rx 6 of 32) and the yellow
    triangle (9,24 16,7 23,24; stroke 3 of 32). A maskable icon fills the square and keeps the
    triangle inside the safe zone (the middle 80%)."""
    scale = 4  # drawn large, then reduced: smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = big / 32
    if maskable:
        draw.rectangle((0, 0, big, big), fill="#7c2d12")
        inner, offset = unit * 0.8, big * 0.1
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=6 * unit, fill="#7c2d12")
        inner, offset = unit, 0.0
    points = [(offset + x * inner, offset + y * inner) for x, y in ((9, 24), (16, 7), (23, 24))]
    draw.line([*points, points[0], points[1]], fill="#fde68a", width=round(3 * inner),
              joint="curve")
    out = io.BytesIO()
    image.resize((size, size), Image.Resampling.LANCZOS).save(out, "PNG", optimize=True)
    return out.getvalue()


@offline.get("/icons/icon-<int:size>.png")
def icon(size: int) -> ResponseReturnValue:
    if size not in ICON_SIZES:
        raise NotFound(f"ไม่มีไอคอนขนาด {size} / no icon of size {size}; "
                       f"sizes: {', '.join(map(str, ICON_SIZES))}")
    response = Response(icon_png(size, request.args.get("maskable") == "1"),
                        mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@offline.get("/sw.js")
def service_worker() -> ResponseReturnValue:
    """The service worker, from the root so its scope covers ``/tour`` and ``/staff``; never
    kept by the HTTP cache, so a new version is found on the next visit."""
    response = send_file(_static() / "js" / "sw.js", mimetype="text/javascript",
                         max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@offline.get("/offline/shell.json")
def shell() -> ResponseReturnValue:
    """What the service worker caches when it installs."""
    names, version = _shell_files(_static())
    return jsonify({"version": version,
                    "urls": [url_for("static", filename=n) for n in names]})


def tiles_for(bbox: tuple[float, float, float, float], min_zoom: int, max_zoom: int,
              ) -> list[tuple[int, int, int]]:
    """The Web Mercator tiles (z, x, y) covering ``bbox`` (lon/lat) at each zoom."""
    def tile(lon: float, lat: float, z: int) -> tuple[int, int]:
        n = 2 ** z
        lat = max(min(lat, 85.0511), -85.0511)
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return min(max(x, 0), n - 1), min(max(y, 0), n - 1)

    found = []
    for z in range(min_zoom, max_zoom + 1):
        x0, y0 = tile(bbox[0], bbox[3], z)
        x1, y1 = tile(bbox[2], bbox[1], z)
        found += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return found


def bounded_tiles(bbox: tuple[float, float, float, float],
                  ) -> tuple[list[tuple[int, int, int]], int]:
    """The tiles from MIN_ZOOM up to the highest zoom (at most MAX_ZOOM) that keeps the count
    within MAX_TILES; and that zoom."""
    for top in range(MAX_ZOOM, MIN_ZOOM - 1, -1):
        found = tiles_for(bbox, MIN_ZOOM, top)
        if len(found) <= MAX_TILES:
            return found, top
    return [], MIN_ZOOM - 1


@offline.get("/offline/provinces/<code>.json")
def province_plan(code: str) -> ResponseReturnValue:
    """What keeping the province fetches: its features (the tour layer's GeoJSON, which the
    pages read), the offline basemap's tiles over its box at zooms MIN_ZOOM… (at most
    MAX_TILES), and an estimate of the bytes, shown before anything is downloaded."""
    if len(code) != 2 or not code.isdigit():
        raise BadParameter(f"province must be a 2-digit DOPA code; got {code!r}")
    box = store.province_box(engine(), code)
    if box is None:
        raise NotFound(f"ไม่มีจังหวัดรหัส {code} / no province {code}")
    from web.pages import map_tiles
    from web.tour import tour_layer

    layer = tour_layer()
    features = url_for("api.items", collection_id=layer.id, province=code, limit=10_000)
    tiles, top = bounded_tiles(box.bbox)
    template = str(map_tiles()["basemap"]["tiles"])  # type: ignore[index]
    tile_urls = [template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
                 for z, x, y in tiles]
    step = max(1, len(tiles) // TILE_SAMPLES)
    sample = tiles[::step][:TILE_SAMPLES]
    sampled = sum(len(gt.get_basemap_tile(engine(), z, x, y).data) for z, x, y in sample)
    tile_bytes = round(sampled / max(1, len(sample)) * len(tiles))
    features_bytes = _features_bytes(layer.id, code)
    return jsonify({
        "province": {"code": box.code, "name_th": box.name_th, "name_en": box.name_en},
        "bbox": [round(v, 6) for v in box.bbox],
        "zoom": [MIN_ZOOM, top], "max_tiles": MAX_TILES,
        "layer": layer.id, "features": features,
        "tiles": tile_urls,
        "estimate_bytes": tile_bytes + features_bytes,
    })


def _features_bytes(layer_id: str, code: str) -> int:
    """The size of the province's GeoJSON: its feature count × a typical feature's size."""
    from gis import layer_queries as lq
    from web.tour import tour_layer

    page = lq.query_features(engine(), tour_layer(), lq.LayerQuery(province=code, limit=20),
                             count=True)
    if not page.features:
        return 200
    typical = sum(len(f) for f in page.features) / len(page.features)
    return round(typical * (page.number_matched or 0)) + 200


@offline.get("/staff/csrf.json")
@signed_in
def fresh_csrf() -> ResponseReturnValue:
    """A fresh CSRF token for edits queued while offline (their page's token may be old)."""
    response = jsonify({"csrf_token": generate_csrf()})
    response.headers["Cache-Control"] = "no-store"
    return response
