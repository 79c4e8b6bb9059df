// The small map on the API's HTML item pages: fetches the page's own GeoJSON twin (data-src),
// so the HTML embeds no features, and draws it with the app's own Leaflet.
(function () {
  "use strict";
  const el = document.getElementById("api-map");
  if (!el || !el.dataset.src || !window.L || !window.cddgisCommon) return;
  const map = window.cddgisCommon.handMap(el, { scrollWheelZoom: false },
    { tiles: el.dataset.tiles, attribution: el.dataset.attribution || "" });
  fetch(el.dataset.src, { headers: { Accept: "application/geo+json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status))))
    .then((data) => {
      const layer = L.geoJSON(data, {
        pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 5, weight: 1 }),
        style: { weight: 1 },
      }).addTo(map);
      const bounds = layer.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 14, padding: [10, 10] });
      el.dataset.drawn = String(layer.getLayers().length);
    })
    .catch(() => { el.dataset.drawn = "error"; });
})();
