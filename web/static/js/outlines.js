// Province outlines under the data, so maps read well with no basemap (air-gapped networks).
(function () {
  "use strict";
  const cfg = window.CDDGIS;
  const map = window[cfg.mapName];
  fetch(`${cfg.api.replace(/\/$/, "")}/collections/provinces/items?lod=3&limit=100`)
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
    .then((fc) => {
      L.geoJSON(fc, { style: { color: "#6b7280", weight: 0.7, fill: false }, interactive: false })
        .addTo(map).bringToBack();
    })
    .catch(() => {});  // the outlines are a backdrop: the page works without them
})();
