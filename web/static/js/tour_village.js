// One tourism village's page: the map opens on the village, inside its subdistrict and district
// outlines, with the nearest tourism villages and the other layers' points around it; and the
// copy-link button. Names come as JSON in the page config and reach the map as text (tooltips).
(function () {
  "use strict";
  const { getJSON, tip, busy, ready, failed } = window.cddgisCommon;
  const cfg = window.CDDGIS;
  const map = window.cddgisCommon.pageMap();
  const api = cfg.api.replace(/\/$/, "");
  const mine = busy();
  const { village, neighbours, color, subdistrict, district, others } = cfg.markers;
  const neighbourColor = cfg.markers.neighbour_color;
  const OTHERS_KM = 10;  // other layers' points within this distance
  const OTHERS_EACH = 15;
  const here = L.latLng(village.lat, village.lon);
  // English mode: the English name (declared, else the stored romanisation), as the page's text.
  const nameOf = (m) => (window.cddgisLang() === "en" && m.name_en ? m.name_en : m.name);
  // Open on the village at once (not at country zoom while the outlines load).
  map.setView(here, 13, { animate: false });

  const outlines = L.layerGroup().addTo(map);
  const nearby = L.layerGroup().addTo(map);
  for (const n of neighbours) {
    L.circleMarker([n.lat, n.lon], { radius: 6, color: "#fff", weight: 1.5, fillColor: neighbourColor,
                                     fillOpacity: 0.9, className: "cddgis-neighbour" })
      .bindTooltip(tip(nameOf(n)))
      .on("click", () => { location.href = location.pathname.replace(/[^/]*$/, encodeURIComponent(n.id)); })
      .addTo(nearby);
  }
  const self = L.circleMarker(here, { radius: 9, color: "#fff", weight: 2, fillColor: color,
                                      fillOpacity: 1, className: "cddgis-village" })
    .bindTooltip(tip(nameOf(village)), { permanent: true, direction: "top", offset: [0, -8] });
  document.addEventListener("cddgis:lang", () => self.setTooltipContent(tip(nameOf(village))));

  function outline(level, code, style) {
    if (!code) return Promise.resolve(null);
    return getJSON(`${api}/collections/${level}/items/${encodeURIComponent(code)}?lod=1`)
      .then((f) => L.geoJSON(f, { style: { ...style, className: `cddgis-outline-${level}` }, interactive: false })
        .addTo(outlines));
  }

  function othersNear(layer) {
    const q = new URLSearchParams({ near: `${village.lon},${village.lat}`, radius_km: OTHERS_KM,
                                    limit: OTHERS_EACH });
    return getJSON(`${api}/collections/${encodeURIComponent(layer.id)}/items?${q}`).then((page) => {
      for (const f of page.features) {
        const [lng, lat] = f.geometry.coordinates;
        const name = f.properties[layer.name_field];
        const title = document.documentElement.lang === "en" ? layer.title_en : layer.title_th;
        L.circleMarker([lat, lng], { radius: 5, color: "#fff", weight: 1, fillColor: layer.color,
                                     fillOpacity: 0.85, className: "cddgis-nearby" })
          .bindTooltip(tip([title, name].filter(Boolean).join(": ")))
          .addTo(nearby);
      }
    });
  }

  Promise.all([
    outline("districts", district, { color: "#475569", weight: 1.5, fill: false, dashArray: "6 4" }),
    outline("subdistricts", subdistrict, { color: "#0369a1", weight: 2.5, fillOpacity: 0.06 }),
    ...others.map(othersNear),
  ]).then(([, sub]) => {
    self.addTo(map);
    // The subdistrict and the nearest tourism village, but never wider than a district view.
    const bounds = sub ? sub.getBounds() : L.latLngBounds([here, here]);
    if (neighbours.length) bounds.extend([neighbours[0].lat, neighbours[0].lon]);
    map.invalidateSize();
    map.fitBounds(bounds.pad(0.05), { animate: false, maxZoom: 14 });
    if (map.getZoom() < 10) map.setView(here, 10, { animate: false });
    ready(mine);
  }).catch((err) => {
    self.addTo(map);
    if (!failed(mine)) return;
    document.getElementById("status").textContent =
      `โหลดแผนที่ไม่ครบ — Could not load the map's outlines: ${err.message}`;
  });

  document.getElementById("share").addEventListener("click", async () => {
    const status = document.getElementById("share-status");
    try {
      if (navigator.share) await navigator.share({ title: document.title, url: location.href });
      else { await navigator.clipboard.writeText(location.href); status.textContent = "คัดลอกแล้ว / copied"; }
    } catch (err) { status.textContent = location.href; }
  });
})();
