"""Folium maps for the pages. HTML only: the data comes from gis/ through the API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import folium
from flask import url_for

from gis.settings import Settings
from web.assets import localize
from web.security import add_nonce

THAILAND_CENTER = (13.0, 101.0)
THAILAND_BOUNDS = [[5.6, 97.3], [20.5, 105.7]]
# Folium's own viewport tag (maximum-scale=1, user-scalable=no) stops pinch-zoom, which people
# with low vision need (WCAG 1.4.4); base.html already has the right one.
FOLIUM_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>\s*')


@dataclass(frozen=True)
class RenderedMap:
    """The pieces of a Folium map, to place inside our own page template."""

    name: str
    header: str
    html: str
    script: str


def base_map(settings: Settings) -> folium.Map:
    fmap = folium.Map(location=THAILAND_CENTER, zoom_start=6, tiles=None, control_scale=True,
                      min_zoom=5, width="100%", height="100%")
    if settings.tile_url:
        folium.TileLayer(tiles=settings.tile_url, attr=settings.tile_attribution,
                         name="แผนที่ฐาน / Basemap", max_zoom=18).add_to(fmap)
    fit_bounds(fmap, THAILAND_BOUNDS)
    return fmap


def fit_bounds(fmap: folium.Map, bounds: list[list[float]], **options: object) -> None:
    """Folium's fit_bounds, without animation. An animated first fit (Leaflet animates even an
    empty map) ends ~250 ms later and puts the map back where it was headed, undoing any view
    the page set meanwhile, e.g. a province picked at once (issue 9)."""
    fit = folium.FitBounds(bounds, **options)  # type: ignore[arg-type]
    fit.options["animate"] = False
    fmap.add_child(fit)


def static_url(path: str) -> str:
    return url_for("static", filename=path)


def render(fmap: folium.Map) -> RenderedMap:
    """Renders inside a request: the map's assets point at this app's static files, and its
    inline <script>/<style> blocks carry the request's CSP nonce."""
    localize(fmap, static_url)
    root: Any = fmap.get_root()  # a branca Figure (typed as a plain Element)
    root.render()
    return RenderedMap(
        name=fmap.get_name(),
        # Folium's own <script>/<style> (no stored text), without its zoom-locking viewport tag
        header=add_nonce(FOLIUM_VIEWPORT.sub("", root.header.render())),
        html=root.html.render(),
        script=root.script.render(),
    )
