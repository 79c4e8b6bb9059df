"""Folium loads Leaflet and friends from CDNs; cddgis serves them itself (air-gapped networks).

Every JS/CSS link of a Folium element is rewritten to a file under ``static/vendor``. A link we
have not vendored raises, so a new plugin cannot quietly bring a CDN back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import folium
from branca.element import Element

# Folium's own link name -> file under static/. None: not needed by our maps, left out.
VENDORED: dict[str, str | None] = {
    "leaflet": "vendor/leaflet-1.9.3/leaflet.js",
    "leaflet_css": "vendor/leaflet-1.9.3/leaflet.css",
    "jquery": None,
    "bootstrap": None,
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers": None,
    "awesome_markers_font_css": None,
    "awesome_markers_css": None,
    "awesome_rotate_css": None,
}


class UnvendoredAsset(LookupError):
    """A Folium element wants a CDN file that cddgis does not serve itself."""


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in element._children.values():
        yield from _walk(child)


def localize(fmap: folium.Map, static_url: Callable[[str], str]) -> folium.Map:
    """Points every JS/CSS link in the map at the app's own static files."""
    for element in _walk(fmap):
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if not links:
                continue
            local: list[tuple[str, str]] = []
            for name, url in links:
                if name not in VENDORED:
                    raise UnvendoredAsset(f"{type(element).__name__} needs {name} ({url}); "
                                          "vendor it under web/static/vendor first")
                path = VENDORED[name]
                if path is not None:
                    local.append((name, static_url(path)))
            setattr(element, attr, local)  # instance attribute: the class list stays intact
    return fmap
