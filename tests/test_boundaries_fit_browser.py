"""The boundaries explorer on a phone: a deep link fits its area every time (issue 15).

Before the fix, ``/boundaries?district=5001`` on a 390×844 phone was not fitted on 5 of 12
loads: the map was fitted while the panel above it was still filling (the area's details and
the drop-downs), so the map then shrank under a view computed for a taller map.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Route

from tests.conftest import _open_page
from tests.pagestate import wait_ready

pytestmark = pytest.mark.browser

# The area's outline as the API gives it, its bounds, and the part of the map the user sees
# (measured from the container as it is now, not from Leaflet's remembered size).
FIT = """async ([collection, code]) => {
  const map = cddgisCommon.pageMap();
  const response = await fetch(`/api/collections/${collection}/items/${code}?lod=1`);
  const area = L.geoJSON(await response.json()).getBounds();
  const box = map.getContainer();
  const seen = L.latLngBounds(map.containerPointToLatLng([0, 0]),
                              map.containerPointToLatLng([box.clientWidth, box.clientHeight]));
  const nw = map.latLngToContainerPoint(area.getNorthWest());
  const se = map.latLngToContainerPoint(area.getSouthEast());
  return { inside: seen.contains(area), width: (se.x - nw.x) / box.clientWidth,
           height: (se.y - nw.y) / box.clientHeight, mapHeight: box.clientHeight };
}"""

LINKS = [("district", "districts", "5001"), ("province", "provinces", "50"),
         ("subdistrict", "subdistricts", "500101"), ("district", "districts", "1001"),
         ("province", "provinces", "73"), ("district", "districts", "9011")]


class _Holder:
    """A route handler that keeps the route (Playwright passes the request too when the
    handler takes two parameters, so a default-argument lambda would keep the request)."""

    def __init__(self, held: list[Route]):
        self.held = held

    def __call__(self, route: Route) -> None:
        self.held.append(route)


def test_phone_deep_links_fit_their_area_every_time(browser, live_server: str) -> None:
    misses, errors = [], []
    for attempt in range(2):
        for level, collection, code in LINKS:
            # A fresh phone each time, as someone opening a shared link: nothing cached, so
            # the page's font and styles arrive while the map is being fitted.
            context, phone = _open_page(browser, viewport={"width": 390, "height": 844},
                                        is_mobile=True, has_touch=True,
                                        device_scale_factor=2)
            # The Thai font arrives late (as on a slow phone network): held back until the
            # page has drawn its area, then let through; the page reflows under the map.
            held: list[Route] = []
            phone.route("**/*.woff2", _Holder(held))
            phone.goto(f"{live_server}/boundaries?{level}={code}", wait_until="domcontentloaded")
            wait_ready(phone)
            for route in held:
                route.continue_()
            phone.unroute("**/*.woff2")
            phone.wait_for_function("() => document.fonts.status === 'loaded' && "
                                    "document.fonts.check('16px Sarabun', 'ก')")
            fit = phone.evaluate(FIT, [collection, code])
            # Fitted: all of the area is on the screen, and it fills the map in one direction
            # (not a small patch of a view meant for another size).
            if not (fit["inside"] and max(fit["width"], fit["height"]) > 0.4):
                misses.append((attempt, level, code, fit))
            errors += phone.js_errors
            context.close()
    assert misses == []
    assert errors == []
