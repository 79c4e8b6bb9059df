// The basemap that needs no internet (แผนที่ฐานที่ไม่ต้องใช้อินเทอร์เน็ต): province, district and
// subdistrict lines and names, and village names, drawn from cddgis's own vector tiles
// (/api/basemap/…) by the vendored protomaps-leaflet, in Thai with the app's own Sarabun font.
// It is the base when the server has no raster basemap (CDDGIS_TILES=none or pmtiles:), and an
// overlay in the layer control over OpenStreetMap. It never touches the page's readiness signal:
// the page's data is ready whether or not the backdrop has finished drawing.
(function () {
  "use strict";
  const cfg = window.CDDGIS;
  const bm = cfg && cfg.basemap;
  const P = window.protomapsL;
  const map = window.cddgisCommon && window.cddgisCommon.pageMap();
  if (!bm || !P || !map) return;

  const FONT = "Sarabun, 'Noto Sans Thai', Loma, sans-serif";

  // A point layer's grid of counts from its vector tiles (below zoom 8 a tile holds one point
  // per grid cell with its `count`): a circle sized by the count, and the count as text. The
  // layer maps and the tour draw their national and regional views with it.
  const short = (n) => (n >= 1000 ? (n / 1000).toFixed(1) + "k" : String(n));
  function countLabel() {
    const inner = new P.CenteredTextSymbolizer({
      labelProps: ["count_text"], fontFamily: FONT, fontSize: 11, fontWeight: 600,
      fill: "#ffffff", stroke: "rgba(0,0,0,0.45)", width: 2 });
    // The renderer labels string properties only: the count is given as text.
    return { place: (layout, geom, f) =>
      inner.place(layout, geom, { ...f, props: { ...f.props, count_text: short(f.props.count || 1) } }) };
  }
  window.cddgisGridLayer = function (layerId, color, url) {
    const radius = (z, f) => 7 + Math.min(16, Math.log10((f.props.count || 1) + 1) * 6);
    return P.leafletLayer({
      url, zIndex: 5, className: `cddgis-grid layer-${layerId}`, attribution: "",
      paintRules: [{ dataLayer: layerId, symbolizer: new P.CircleSymbolizer({
        radius, fill: color, opacity: 0.85, stroke: "#ffffff", width: 1.5 }) }],
      labelRules: [{ dataLayer: layerId, symbolizer: countLabel() }],
    });
  };
  const level = (name) => (z, f) => f.props.level === name;
  // Names in the language chosen (lang.js): name_en where a place has one, else name_th.
  const english = () => Boolean(window.cddgisLang && window.cddgisLang() === "en");
  const names = () => (english() ? ["name_en", "name_th"] : ["name_th"]);
  const text = (size, weight, fill, labelProps = names()) => new P.CenteredTextSymbolizer({
    labelProps, fontFamily: FONT, fontSize: size, fontWeight: weight, fill,
    stroke: "#ffffff", width: 2.5, maxLineChars: 18,
  });

  // Lines (and, as the base, the land): the boundary collections' own tile layers.
  function paintRules(asBase) {
    const rules = [];
    if (asBase) {
      rules.push({ dataLayer: "provinces", symbolizer: new P.PolygonSymbolizer({ fill: "#f3efe6" }) });
    }
    rules.push(
      { dataLayer: "subdistricts",
        symbolizer: new P.LineSymbolizer({ color: "#b8a99a", width: 0.6, dash: [3, 2] }) },
      { dataLayer: "districts", symbolizer: new P.LineSymbolizer({ color: "#8f7f6f", width: 1 }) },
      { dataLayer: "provinces", symbolizer: new P.LineSymbolizer({ color: "#5b4b3b", width: 1.6 }) },
      { dataLayer: "villages", minzoom: 13,
        symbolizer: new P.CircleSymbolizer({ radius: 2, fill: "#7c6f64" }) },
    );
    return rules;
  }

  // Names: provinces first (they win a collision), then districts, subdistricts, villages.
  function labelRules() {
    return [
      { dataLayer: "labels", filter: level("provinces"), symbolizer: text(14, 600, "#3b2f22") },
      { dataLayer: "labels", filter: level("districts"), symbolizer: text(12, 600, "#4f4234") },
      { dataLayer: "labels", filter: level("subdistricts"), symbolizer: text(11, 400, "#5f5346") },
      { dataLayer: "villages", minzoom: 13, symbolizer: text(10, 400, "#6b5f53") },
    ];
  }

  const attribution = "ขอบเขต: RTSD / OCHA via HDX (CC BY-IGO) · ชื่อ: GeoThai (CC BY 4.0)";
  // The raster basemap Folium added (OpenStreetMap or the operator's tile server), if any.
  let raster = null;
  map.eachLayer((layer) => { if (layer instanceof L.TileLayer) raster = layer; });
  const asBase = !raster;

  function ownLayer(landFill) {
    return P.leafletLayer({
      url: bm.tiles, paintRules: paintRules(landFill), labelRules: labelRules(),
      attribution, maxDataZoom: 16, className: "cddgis-basemap",
    });
  }

  // A local PMTiles file: the Protomaps basemap schema (light flavour, Thai names) and ours,
  // so a Protomaps extract and a file cut from cddgis's own tiles both draw.
  function pmtilesLayer() {
    const layer = P.leafletLayer({ url: bm.pmtiles, flavor: "light", lang: "th",
                                   attribution: bm.attribution || "", className: "cddgis-pmtiles" });
    layer.paintRules.push(...paintRules(true));
    layer.labelRules.push(...labelRules());  // the same array the labeler reads
    return layer;
  }

  const BASE_TH = "แผนที่ฐาน";
  const OFFLINE_NAME = "แผนที่ฐานออฟไลน์ (cddgis) <span class=\"en\">Offline basemap</span>";
  const OVERLAY_NAME = "ขอบเขตและชื่อ (cddgis) <span class=\"en\">Boundaries &amp; names</span>";
  let own = null;        // cddgis's own layer: the base, or the overlay over the raster
  let ownIsBase = asBase;
  let control = null;

  function setOwn(layer, name, isBase) {
    const wasOn = own && map.hasLayer(own);
    if (own) { map.removeLayer(own); control.removeLayer(own); }
    own = layer;
    ownIsBase = isBase;
    if (isBase) control.addBaseLayer(own, name); else control.addOverlay(own, name);
    if (isBase || wasOn || bm.on) own.addTo(map);
    window.cddgisBasemap = own;  // for tests and the console: the layer, its rules
  }

  // The raster basemap (OpenStreetMap by default) needs the internet. When its first tiles all
  // fail and none loads, the map says so and draws cddgis's own basemap instead, with its own
  // attribution, rather than crediting OpenStreetMap over grey. A network that drops requests
  // instead of refusing them (a firewall, as on many government networks) fails nothing for
  // minutes: if no tile has loaded after RASTER_WAIT_MS, the map falls back as well, and keeps
  // OpenStreetMap in the layer control for when the network comes back.
  const FAILED_TILES = 4;
  const RASTER_WAIT_MS = bm.rasterWaitMs || 8000;
  const NOTE_CLOSED = "cddgis.basemapNoteClosed";
  let rasterFailed = false;
  let rasterSilent = false;
  function watchRaster() {
    // Tiles that settled before this script ran count too (Leaflet marks the ones that loaded).
    const settled = Object.values(raster._tiles || {}).filter((t) => t.loaded);
    let loaded = settled.filter((t) => t.el.classList.contains("leaflet-tile-loaded")).length;
    let failed = settled.length - loaded;
    const check = () => {
      if (rasterFailed || loaded > 0 || failed < FAILED_TILES) return;
      rasterFailed = true;
      if (control) fallBack();  // else addLayers falls back once the layer control is there
    };
    raster.on("tileload", () => { loaded += 1; });
    raster.on("tileerror", () => { failed += 1; check(); });
    check();
    window.setTimeout(() => {
      if (rasterFailed || loaded > 0) return;
      rasterFailed = rasterSilent = true;
      if (control) fallBack();
    }, RASTER_WAIT_MS);
  }
  function fallBack() {
    map.removeLayer(raster);
    if (!rasterSilent) control.removeLayer(raster);
    map.getContainer().classList.add("offline-basemap");
    map.getContainer().dataset.basemap = "offline";
    setOwn(ownLayer(true), OFFLINE_NAME, true);
    const note = L.control({ position: "bottomleft" });
    note.onAdd = () => {
      const div = L.DomUtil.create("div", "basemap-note");
      div.setAttribute("role", "status");
      const th = document.createElement("span");
      th.className = "th";
      th.textContent = "ออฟไลน์: แผนที่ OpenStreetMap โหลดไม่ได้ จึงใช้แผนที่ฐานของ cddgis ";
      const en = document.createElement("span");
      en.className = "en";
      en.textContent = "Offline: OpenStreetMap tiles could not load; showing cddgis's own basemap.";
      // A phone's map is small: the note can be closed (it is said once, not kept in the way).
      const close = document.createElement("button");
      close.type = "button";
      close.className = "basemap-note-close";
      close.setAttribute("aria-label", "ปิดข้อความ / Close this note");
      close.textContent = "×";
      close.addEventListener("click", () => {
        note.remove();
        try { window.localStorage.setItem(NOTE_CLOSED, "1"); } catch (e) { /* private mode */ }
      });
      L.DomEvent.disableClickPropagation(div);
      div.append(close, th, en);
      return div;
    };
    let closedBefore = false;
    try { closedBefore = window.localStorage.getItem(NOTE_CLOSED) === "1"; } catch (e) { /* none */ }
    if (!closedBefore) note.addTo(map);  // said once: a closed note stays closed on later pages
    document.dispatchEvent(new CustomEvent("cddgis:basemap-offline"));
  }

  function addLayers() {
    const bases = {};
    if (bm.pmtiles) {
      const local = pmtilesLayer().addTo(map);
      bases["แผนที่ฐานในเครื่อง <span class=\"en\">Local basemap</span>"] = local;
    } else if (raster) {
      bases[`${BASE_TH} <span class="en">Basemap</span>`] = raster;
    }
    control = L.control.layers(bases, {}, { position: "topright" }).addTo(map);
    setOwn(ownLayer(asBase && !bm.pmtiles), OVERLAY_NAME, false);
    if (asBase) {
      map.getContainer().classList.add("offline-basemap");
      map.getContainer().dataset.basemap = bm.pmtiles ? "pmtiles" : "offline";
    } else {
      map.getContainer().dataset.basemap = "raster";
      if (rasterFailed) fallBack();
    }
    // English chosen: the names again, in English.
    document.addEventListener("cddgis:lang", () => {
      setOwn(ownLayer(ownIsBase ? true : asBase && !bm.pmtiles),
             ownIsBase ? OFFLINE_NAME : OVERLAY_NAME, ownIsBase);
    });
  }

  // Labels are measured on a canvas: the Thai font must be there before the first tile draws.
  const fontsReady = document.fonts && document.fonts.load
    ? Promise.all([document.fonts.load(`600 14px Sarabun`, "กรุงเทพ"),
                   document.fonts.load(`400 11px Sarabun`, "กรุงเทพ")])
    : Promise.resolve();
  if (raster && !bm.pmtiles) watchRaster();
  fontsReady.catch(() => {}).then(addLayers);
})();
