// A shared trip's page (issue 24, item 3): its villages on the map, numbered in the trip's order
// and joined by a line in that order (not a road route: the links open one in a maps app). Names
// come as JSON in the page config and reach the map as text (tooltips).
(function () {
  "use strict";
  const { tip, iconBox, busy, ready } = window.cddgisCommon;
  const cfg = window.CDDGIS;
  const map = window.cddgisCommon.pageMap();
  const mine = busy();
  const { stops, color } = cfg.markers;
  const lang = () => window.cddgisLang();
  const drawn = L.layerGroup().addTo(map);

  function draw() {
    drawn.clearLayers();
    const points = stops.map((s) => [s.lat, s.lon]);
    if (points.length > 1) {
      L.polyline(points, { color, weight: 3, opacity: 0.7, dashArray: "6 6", interactive: false,
                           className: "cddgis-trip-line" }).addTo(drawn);
    }
    stops.forEach((s, i) => {
      L.marker([s.lat, s.lon], {
        icon: L.divIcon({ html: iconBox("trip-icon", String(i + 1), { background: color }),
                          className: "cddgis-trip-stop", iconSize: [26, 26] }),
        title: "", keyboard: false,
      }).bindTooltip(tip(lang() === "en" ? s.name_en : s.name))  // the marker shows the number
        .on("click", () => { location.href = s.url; })
        .addTo(drawn);
    });
    return points;
  }

  const points = draw();
  map.invalidateSize();
  if (points.length) map.fitBounds(L.latLngBounds(points).pad(0.15), { animate: false, maxZoom: 13 });
  document.addEventListener("cddgis:lang", draw);
  ready(mine);
})();
