"""Folium maps for the pages. HTML only: the data comes from gis/ through the API.

Every map page builds its map with :func:`page_map` and renders it with :func:`render`
(docs/architecture.md, "Maps on pages"). Folium is used through its own extension points, never
patched after rendering:

- assets: :class:`PageMap` sets Folium's asset lists (``default_js``/``default_css``, which
  Folium renders as ``<script src>``/``<link>``) to Leaflet under ``static/vendor``, so the page
  works on a network without the internet. tests/test_maps.py fails if any map page links a
  file from elsewhere (a plugin with its own CDN list, say).
- CSP nonces: :class:`PageMap`'s template writes ``nonce="…"`` on its inline tags itself; the
  nonce comes in as a render argument (Folium passes ``kwargs`` to every template).
- no viewport tag: Folium's Map writes ``maximum-scale=1, user-scalable=no``, which stops
  pinch-zoom that people with low vision need (WCAG 1.4.4); base.html has the right one, and
  :class:`PageMap`'s template does not write Folium's.
- the hook: :class:`MapHook` registers the map as ``window.cddgisMaps.page`` and fires
  ``cddgis:map-ready`` on ``document``; page scripts take it with ``cddgisCommon.pageMap()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import folium
from branca.element import MacroElement
from flask import url_for
from folium.template import Environment, Template

from gis.settings import Settings
from web.security import nonce

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

# Folium's Map template with our own header: Folium's three <style> blocks and its global
# switches, each carrying the response's nonce, and without its zoom-locking viewport tag.
# The map's <div> and script are Folium's own macros, called through.
_PAGE_MAP_TEMPLATE = Environment().from_string(
    """
{% macro header(this, kwargs) %}
{%- set n %}{% if kwargs.nonce %} nonce="{{ kwargs.nonce }}"{% endif %}{% endset %}
<style{{ n }}>
    #{{ this.get_name() }} {
        position: {{this.position}};
        width: {{this.width[0]}}{{this.width[1]}};
        height: {{this.height[0]}}{{this.height[1]}};
        left: {{this.left[0]}}{{this.left[1]}};
        top: {{this.top[0]}}{{this.top[1]}};
    }
    .leaflet-container { font-size: {{this.font_size}}; }
</style>
<style{{ n }}>html, body { width: 100%; height: 100%; margin: 0; padding: 0; }</style>
<style{{ n }}>#map { position:absolute; top:0; bottom:0; right:0; left:0; }</style>
<script{{ n }}>
    L_NO_TOUCH = {{ this.global_switches.no_touch|tojson }};
    L_DISABLE_3D = {{ this.global_switches.disable_3d|tojson }};
</script>
{% endmacro %}
{% macro html(this, kwargs) %}{{ folium_map.html(this, kwargs) }}{% endmacro %}
{% macro script(this, kwargs) %}{{ folium_map.script(this, kwargs) }}{% endmacro %}
""",
    globals={"folium_map": folium.Map._template.module},
    template_class=Template,
)


class PageMap(folium.Map):
    """A ``folium.Map`` for our pages: Leaflet from ``asset_url`` (None: no links, the page
    brings Leaflet itself, as the standalone export does), nonce'd inline tags, no viewport tag."""

    _template = _PAGE_MAP_TEMPLATE

    def __init__(self, asset_url: Callable[[str], str] | None, **options: Any) -> None:
        super().__init__(**options)
        # Folium's asset settings (JSCSSMixin renders one <script src>/<link> per entry). Set on
        # the instance: the URLs depend on the request (url_for), and Folium's class lists stay.
        self.default_js = [(name, asset_url(path)) for name, path in VENDORED_JS.items()
                           ] if asset_url else []
        self.default_css = [(name, asset_url(path)) for name, path in VENDORED_CSS.items()
                            ] if asset_url else []


class MapHook(MacroElement):
    """The one hook page scripts find the map by: ``window.cddgisMaps[name]`` (read it with
    ``cddgisCommon.pageMap()``), and a ``cddgis:map-ready`` event on ``document`` whose
    ``detail`` is ``{name, map}``, for a script that may run before the map is made. Folium's
    generated global name (``map_<hex>``) is not part of the contract."""

    _template = Template("""
{% macro script(this, kwargs) %}
{%- set name, map = this.hook_name|tojson, this._parent.get_name() %}
(window.cddgisMaps = window.cddgisMaps || {})[{{ name }}] = {{ map }};
document.dispatchEvent(new CustomEvent("cddgis:map-ready",
                                       {detail: {name: {{ name }}, map: {{ map }}}}));
{% endmacro %}
""")

    def __init__(self, hook_name: str = HOOK_NAME) -> None:
        super().__init__()
        self._name = "MapHook"
        self.hook_name = hook_name


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
    """Every map page's map: Thailand in view (fitted without animation), a scale, and the
    operator's basemap if there is one (else basemap.js draws our own). ``min_zoom`` is as it
    always was: Folium gives it only to a tile layer it makes itself (we make ours), so the map
    itself has no minimum zoom and a phone can still show the whole country."""
    fmap = PageMap(asset_url, location=THAILAND_CENTER, zoom_start=ZOOM_START, tiles=None,
                   control_scale=True, min_zoom=MIN_ZOOM, width="100%", height="100%")
    if settings.tile_url:
        folium.TileLayer(tiles=settings.tile_url, attr=settings.tile_attribution,
                         name="แผนที่ฐาน / Basemap", max_zoom=BASEMAP_MAX_ZOOM).add_to(fmap)
    fit_bounds(fmap, THAILAND_BOUNDS)
    return fmap


def fit_bounds(fmap: folium.Map, bounds: list[list[float]], **options: object) -> None:
    """Folium's fit_bounds, without animation. An animated first fit (Leaflet animates even an
    empty map) ends ~250 ms later and puts the map back where it was headed, undoing any view
    the page set meanwhile, e.g. a province picked at once (issue 9)."""
    fit = folium.FitBounds(bounds, **options)  # type: ignore[arg-type]
    fit.options["animate"] = False
    fmap.add_child(fit)


def render(fmap: folium.Map) -> RenderedMap:
    """Renders inside a request: the hook goes last (after everything the map holds), and the
    request's CSP nonce is handed to the templates, which write it on their inline tags."""
    return _render(fmap, nonce())


def _render(fmap: folium.Map, with_nonce: str) -> RenderedMap:
    fmap.add_child(MapHook(), name="cddgis_map_hook")
    root: Any = fmap.get_root()  # a branca Figure (typed as a plain Element)
    root.render(nonce=with_nonce)
    return RenderedMap(
        header=root.header.render(),
        html=root.html.render(),
        script=root.script.render(),
    )


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
        kept = _render(page_map(settings), _NONCE_MARK)
        with _PLAIN_LOCK:
            if len(_PLAIN) >= PLAIN_MAX:
                _PLAIN.clear()
            _PLAIN[key] = kept
    now = nonce()
    mark, mine = f' nonce="{_NONCE_MARK}"', f' nonce="{now}"' if now else ""
    return RenderedMap(*(part.replace(mark, mine) for part in
                         (kept.header, kept.html, kept.script)))
