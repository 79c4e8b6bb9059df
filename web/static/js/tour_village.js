// One tourism village's page: its marker and its neighbours' on the small map, and the share
// button. The names come as JSON in the page config and reach the map as text (tooltip nodes).
(function () {
  "use strict";
  const { tip, busy, ready } = window.cddgisCommon;
  const cfg = window.CDDGIS;
  const map = window[cfg.mapName];
  const mine = busy();
  const { village, neighbours, color } = cfg.markers;
  for (const n of neighbours) {
    L.circleMarker([n.lat, n.lon], { radius: 6, color: "#fff", weight: 1.5, fillColor: "#64748b",
                                     fillOpacity: 0.9, className: "cddgis-neighbour" })
      .bindTooltip(tip(n.name)).addTo(map);
  }
  L.circleMarker([village.lat, village.lon], { radius: 9, color: "#fff", weight: 2, fillColor: color,
                                               fillOpacity: 1, className: "cddgis-village" })
    .bindTooltip(tip(village.name)).addTo(map);

  document.getElementById("share").addEventListener("click", async () => {
    const status = document.getElementById("share-status");
    try {
      if (navigator.share) await navigator.share({ title: document.title, url: location.href });
      else { await navigator.clipboard.writeText(location.href); status.textContent = "คัดลอกแล้ว / copied"; }
    } catch (err) { status.textContent = location.href; }
  });
  ready(mine);
})();
