"""Folium maps for the pages. HTML only: the data comes from gis/ through the API.

Every map page builds its map with :func:`page_map` and renders it with :func:`render`
(docs/architecture.md, "Maps on pages"). Folium is used through its own extension points, never
patched after rendering:

- assets: ``web.folium_map.PageMap`` sets Folium's asset lists (``default_js``/``default_css``,
  which Folium renders as ``<script src>``/``<link>``) to Leaflet under ``static/vendor``, so
  the page works on a network without the internet. tests/test_maps.py fails if any map page links a
  file from elsewhere (a plugin with its own CDN list, say).
- CSP nonces: ``PageMap``'s template writes ``nonce="…"`` on its inline tags itself; the
  nonce comes in as a render argument (Folium passes ``kwargs`` to every template).
- no viewport tag: Folium's Map writes ``maximum-scale=1, user-scalable=no``, which stops
  pinch-zoom that people with low vision need (WCAG 1.4.4); base.html has the right one, and
  ``PageMap``'s template does not write Folium's.
- the hook: ``web.folium_map.MapHook`` registers the map as ``window.cddgisMaps.page`` and fires
  ``cddgis:map-ready`` on ``document``; page scripts take it with ``cddgisCommon.pageMap()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import url_for

from gis.settings import Settings
from web.security import nonce

if TYPE_CHECKING:
    import folium

    from web.folium_map import PageMap

# The shared defaults of every map (common.js handMap() has the same for the maps that page
# scripts make by hand; tests/test_maps.py checks that they agree).
THAILAND_CENTER = (13.0, 101.0)
THAILAND_BOUNDS = [[5.6, 97.3], [20.5, 105.7]]
ZOOM_START = 6
MIN_ZOOM = 5
BASEMAP_MAX_ZOOM = 18
HOOK_NAME = "page"

# Folium's asset names -> our copies under static/. Folium's other defaults (jQuery, Bootstrap,
# Font Awesome, awesome-markers) are for its markers and popups, which cddgis does not use.
VENDORED_JS = {"leaflet": "vendor/leaflet-1.9.3/leaflet.js"}
VENDORED_CSS = {"leaflet_css": "vendor/leaflet-1.9.3/leaflet.css"}

@dataclass(frozen=True)
class RenderedMap:
    """The pieces of a Folium map, to place inside our own page template."""

    header: str
    html: str
    script: str


def static_url(path: str) -> str:
    return url_for("static", filename=path)


def page_map(settings: Settings, *, asset_url: Callable[[str], str] | None = static_url,
             ) -> PageMap:
    """Every map page's map (``web.folium_map.page_map``): Folium is imported with the first
    map built, not when the app starts (it brings pandas: half a second of every worker's
    start, issue 26)."""
    from web.folium_map import page_map as build

    return build(settings, asset_url=asset_url)


def fit_bounds(fmap: folium.Map, bounds: list[list[float]], **options: object) -> None:
    """``web.folium_map.fit_bounds``: Folium's fit_bounds, without animation."""
    from web.folium_map import fit_bounds as fit

    fit(fmap, bounds, **options)


def render(fmap: folium.Map) -> RenderedMap:
    """Renders inside a request: the hook goes last (after everything the map holds), and the
    request's CSP nonce is handed to the templates, which write it on their inline tags."""
    from web.folium_map import render_with

    return render_with(fmap, nonce())


# -- the plain page map, rendered once per process -------------------------------------------

_NONCE_MARK = "cddgis-nonce-mark-7f3a"
"""Rendered in the nonce's place, then replaced by the request's nonce (letters, digits, ``-``:
it cannot be mistaken for anything Folium writes)."""
_PLAIN: dict[tuple[str | None, ...], RenderedMap] = {}
_PLAIN_LOCK = threading.Lock()
PLAIN_MAX = 8
"""Keyed by what the map's text depends on (the basemap settings and the assets' URLs): one
entry per deployment, a few more in tests."""


def plain_map(settings: Settings) -> RenderedMap:
    """``render(page_map(settings))``, for the pages whose map holds nothing of their own.

    Folium built the same map on every request: ~25 % of ``/tour`` and ``/choropleth``
    (issue 26), much of it ``TileLayer`` looking the basemap up in xyzservices. Its text
    depends only on the settings and the assets' URLs, so it is rendered once per process
    with a mark where the nonce goes, and each request gets a copy with its own nonce."""
    key = (settings.tile_url, settings.tile_attribution,
           *(static_url(path) for path in (*VENDORED_JS.values(), *VENDORED_CSS.values())))
    with _PLAIN_LOCK:
        kept = _PLAIN.get(key)
    if kept is None:
        from web.folium_map import render_with

        kept = render_with(page_map(settings), _NONCE_MARK)
        with _PLAIN_LOCK:
            if len(_PLAIN) >= PLAIN_MAX:
                _PLAIN.clear()
            _PLAIN[key] = kept
    now = nonce()
    mark, mine = f' nonce="{_NONCE_MARK}"', f' nonce="{now}"' if now else ""
    return RenderedMap(*(part.replace(mark, mine) for part in
                         (kept.header, kept.html, kept.script)))
