"""The Folium side of the page maps (web/maps.py is the interface pages use): imported with
the first map a process builds, not at start-up, because Folium brings pandas and branca.
Folium is used through its own extension points (web/maps.py's docstring says which)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import folium
from branca.element import MacroElement
from folium.template import Environment, Template

from gis.settings import Settings
from web.maps import (
    BASEMAP_MAX_ZOOM,
    HOOK_NAME,
    MIN_ZOOM,
    THAILAND_BOUNDS,
    THAILAND_CENTER,
    VENDORED_CSS,
    VENDORED_JS,
    ZOOM_START,
    RenderedMap,
)

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


def page_map(settings: Settings, *, asset_url: Callable[[str], str] | None,
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


def render_with(fmap: folium.Map, with_nonce: str) -> RenderedMap:
    """The map's pieces, the hook last, ``with_nonce`` on every inline tag."""
    fmap.add_child(MapHook(), name="cddgis_map_hook")
    root: Any = fmap.get_root()  # a branca Figure (typed as a plain Element)
    root.render(nonce=with_nonce)
    return RenderedMap(
        header=root.header.render(),
        html=root.html.render(),
        script=root.script.render(),
    )
