// Areas (provinces, districts, subdistricts) drawn from cddgis's own vector tiles
// (/api/collections/{id}/tiles/…) by the vendored protomaps-leaflet, and styled in the browser:
// the page gives each area's look by its DOPA code (a choropleth's class colour, the explorer's
// outline), so restyling needs no new request. Thousands of areas paint on a few canvases
// instead of thousands of SVG paths, and a pan or zoom fetches only the tiles not yet seen
// (the server caches them; their URLs carry the tileset's version, so the browser and a proxy
// keep them).
// Hover and click find the area under the pointer in the tiles themselves (point in polygon),
// with the same tooltip and click as the GeoJSON drawing they replace.
(function () {
  "use strict";
  const P = window.protomapsL;
  if (!P) return;

  // opts: api, collection, params (URLSearchParams: region/province/district),
  // fill(props) -> {color, opacity} or null (not filled), line {color, width},
  // tooltip(props) -> HTML (escaped by the caller) or "", click(props), className.
  window.cddgisAreaTiles = function (map, opts) {
    const url = window.cddgisCommon.tileUrl(opts.api, opts.collection, opts.params);
    let hovered = null;
    const fill = (f) => opts.fill ? opts.fill(f.props) : null;
    const paintRules = [
      { dataLayer: opts.collection, filter: (z, f) => fill(f) !== null,
        symbolizer: new P.PolygonSymbolizer({
          fill: (z, f) => fill(f).color, opacity: (z, f) => fill(f).opacity }) },
      { dataLayer: opts.collection,
        symbolizer: new P.LineSymbolizer({ color: opts.line.color, width: opts.line.width }) },
      { dataLayer: opts.collection, filter: (z, f) => hovered !== null && f.props.code === hovered,
        symbolizer: new P.LineSymbolizer({ color: "#111827", width: 2.5 }) },
    ];
    const layer = P.leafletLayer({
      url, paintRules, labelRules: [], attribution: "", maxDataZoom: 14, zIndex: 6,
      className: opts.className || "cddgis-area-tiles",
    });
    // The tiles' load event: every tile in view painted (tests and benchmarks wait on it).
    layer.on("load", () => { map.getContainer().dataset.areasDrawn = opts.collection; });
    layer.on("loading", () => { delete map.getContainer().dataset.areasDrawn; });
    layer.addTo(map);

    function areaAt(latlng) {
      const found = layer.queryTileFeaturesDebug(latlng.lng, latlng.lat, 0);
      for (const features of found.values()) {
        for (const picked of features) {
          if (picked.layerName === opts.collection && picked.feature.props.code) {
            return picked.feature.props;
          }
        }
      }
      return null;
    }

    const tip = L.tooltip({ sticky: true, className: "cddgis-area-tip" });
    function highlight(code) {
      if (code === hovered) return;
      hovered = code;
      layer.rerenderTiles();
    }
    function move(e) {
      const props = areaAt(e.latlng);
      highlight(props ? props.code : null);
      const html = props && opts.tooltip ? opts.tooltip(props) : "";
      if (!html) { map.closeTooltip(tip); return; }
      tip.setLatLng(e.latlng).setContent(html);
      if (!map.hasLayer(tip)) map.openTooltip(tip);
    }
    function out() { highlight(null); map.closeTooltip(tip); }
    function click(e) {
      const props = areaAt(e.latlng);
      if (props && opts.click) opts.click(props);
    }
    map.on("mousemove", move);
    map.on("mouseout", out);
    map.on("click", click);
    map.getContainer().classList.add("cddgis-areas-tiled");

    return {
      layer,
      highlight,
      /** Restyles every area from the page's current values (no request). */
      restyle() { layer.rerenderTiles(); },
      remove() {
        map.off("mousemove", move);
        map.off("mouseout", out);
        map.off("click", click);
        map.closeTooltip(tip);
        map.removeLayer(layer);
        map.getContainer().classList.remove("cddgis-areas-tiled");
        delete map.getContainer().dataset.areasDrawn;
      },
    };
  };
})();
