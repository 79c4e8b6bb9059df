// Point layer maps: area and attribute filters, counts on a grid drawn from the layer's vector
// tiles when zoomed out (national and regional zoom), server-side clusters or the points with
// popups when zoomed in, a table of what is in view, CSV download and a permalink.
// Nothing is embedded in the page: every view loads only what it needs from /api.
(function () {
  "use strict";
  const { getJSON, esc, tip, iconBox, busy, current, ready, failed, formatNumber, formatYear,
          formatDateBE, copyLinkButton, tileUrl } = window.cddgisCommon;
  const areas = window.cddgisAreas;
  const cfg = window.CDDGIS;
  const map = window.cddgisCommon.pageMap();
  const api = cfg.api.replace(/\/$/, "");
  const POINTS_BELOW = 1500;      // fewer than this in view: draw the points themselves
  const TILES_BELOW = 8;          // below this zoom the grid of counts comes from vector tiles
  const TABLE_ROWS = 200;
  const byId = Object.fromEntries(cfg.layers.map((l) => [l.id, l]));
  const form = document.getElementById("filters");
  const el = (id) => document.getElementById(id);
  const AREAS = ["region", "province", "district", "subdistrict"];
  const areaChain = areas.chain(api, { region: el("f-region"), province: el("f-province"),
                                       district: el("f-district"), subdistrict: el("f-subdistrict") });
  const fmt = { format: (x) => formatNumber(x) };
  const drawn = L.layerGroup().addTo(map);
  const markers = new Map();  // feature id -> marker, for the table
  const gridLayers = new Map();  // layer id -> { url, layer }: the vector-tile grid drawn now
  let areaOutline = null;
  let openAfterDraw = null;  // "layer/id" whose popup a table click asked for

  // ---- state <-> URL ----------------------------------------------------------------------
  function activeLayers() {
    if (cfg.single) return [cfg.layers[0].id];
    return [...document.querySelectorAll("#layer-switcher input:checked")].map((i) => i.value);
  }

  function filterParams() {
    const p = new URLSearchParams();
    for (const input of form.elements) {
      if (!input.name || input.disabled || !input.value) continue;
      p.set(input.name, input.value);
    }
    return p;
  }

  function writeUrl() {
    const p = filterParams();
    if (!cfg.single) p.set("layers", activeLayers().join(","));
    const c = map.getCenter();
    p.set("z", map.getZoom());
    p.set("c", `${c.lat.toFixed(5)},${c.lng.toFixed(5)}`);
    const url = `${location.pathname}?${p}`;
    history.replaceState(null, "", url);
    el("permalink").href = url;
  }

  async function readUrl() {
    const q = new URLSearchParams(location.search);
    if (!cfg.single && q.has("layers")) {
      const wanted = new Set(q.get("layers").split(","));
      for (const box of document.querySelectorAll("#layer-switcher input")) {
        box.checked = wanted.has(box.value);
      }
    }
    const area = areas.fromQuery(q);
    await areaChain.restore(area);
    for (const input of form.elements) {
      if (!input.name || AREAS.includes(input.name)) continue;
      if (q.has(input.name)) input.value = q.get(input.name);
    }
    if (q.has("z") && q.has("c")) {
      const [lat, lng] = q.get("c").split(",").map(Number);
      // No animation: an animated zoom ends after the first view was read and drawn, so that
      // view (and the URL and permalink written from it) was the country's on 3 loads in 12.
      if (Number.isFinite(lat) && Number.isFinite(lng)) {
        map.setView([lat, lng], Number(q.get("z")), { animate: false });
      }
    } else if (area.province) {
      await zoomToArea();
    }
  }

  // ---- the chosen area on the map ---------------------------------------------------------
  async function zoomToArea() {
    const sub = el("f-subdistrict").value, dis = el("f-district").value, pro = el("f-province").value;
    const [collection, code] = sub ? ["subdistricts", sub] : dis ? ["districts", dis] :
      pro ? ["provinces", pro] : [null, null];
    if (areaOutline) { map.removeLayer(areaOutline); areaOutline = null; }
    if (!collection) {
      const region = el("f-region").value;
      if (region) {
        const fc = await getJSON(`${api}/collections/provinces/items?region=${region}&lod=3`);
        map.fitBounds(L.geoJSON(fc).getBounds(), { animate: false });
      }
      return;
    }
    const feature = await getJSON(`${api}/collections/${collection}/items/${code}?lod=1`);
    areaOutline = L.geoJSON(feature, {
      style: { color: "#b91c1c", weight: 2, fill: false, className: "area-outline" },
      interactive: false,
    }).addTo(map);
    // No animation: its moveend would come after the page said "ready", and reload the view.
    map.fitBounds(areaOutline.getBounds(), { padding: [10, 10], animate: false });
  }

  // ---- popups and table -------------------------------------------------------------------
  function displayValue(field, value) {
    if (value === null || value === undefined || value === "") return null;
    if (field.type === "enum") return field.choices[value] || String(value);
    if (field.type === "bool") return value ? "ใช่ (yes)" : "ไม่ใช่ (no)";
    if (field.type === "year_be") return formatYear(value);  // a B.E. year: 2563, never "2,563"
    if (field.type === "date") return formatDateBE(value);
    if (typeof value === "number") return fmt.format(value);
    return String(value);
  }

  function popupContent(layer, props) {
    // Built from DOM nodes with textContent: names can hold anything, even <script>.
    const root = document.createElement("div");
    root.className = "popup";
    const title = document.createElement("h3");
    title.textContent = props[layer.name_field] || props.id;
    root.appendChild(title);
    const sub = document.createElement("div");
    sub.className = "en";
    sub.textContent = `${layer.title_th} · ${[props.subdistrict_th, props.district_th, props.province_th].filter(Boolean).join(" ")}`;
    root.appendChild(sub);
    if (props.sample) {
      const tag = document.createElement("span");
      tag.className = "sample-tag";
      tag.textContent = "ข้อมูลตัวอย่าง / sample";
      root.appendChild(tag);
    }
    const dl = document.createElement("dl");
    for (const name of layer.popup_fields) {
      const field = layer.fields[name];
      if (!field || name === layer.name_field) continue;
      const shown = displayValue(field, props[name]);
      if (shown === null) continue;
      const dt = document.createElement("dt");
      dt.textContent = field.label_th;
      const dd = document.createElement("dd");
      if (field.type === "url" && /^https?:\/\//i.test(shown)) {
        const a = document.createElement("a");
        a.href = shown;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.textContent = "เปิด / open";
        dd.appendChild(a);
      } else {
        dd.textContent = shown;
      }
      dl.append(dt, dd);
    }
    root.appendChild(dl);
    return root;
  }

  function renderTable(rows) {
    const table = el("feature-table");
    const single = cfg.single ? cfg.layers[0] : null;
    const extra = single ? single.popup_fields.filter((n) => n !== single.name_field).slice(0, 2) : [];
    const head = ["ชื่อ / Name", ...(single ? [] : ["ชั้นข้อมูล / Layer"]),
                  ...extra.map((n) => single.fields[n].label_th), "พื้นที่ / Area"];
    table.tHead.innerHTML = "<tr>" + head.map((h) => `<th>${esc(h)}</th>`).join("") + "</tr>";
    const body = document.createElement("tbody");
    for (const [layer, f] of rows) {
      const p = f.properties;
      const tr = document.createElement("tr");
      tr.dataset.id = f.id;
      const cells = [p[layer.name_field] || f.id, ...(single ? [] : [layer.title_th]),
                     ...extra.map((n) => displayValue(layer.fields[n], p[n]) || ""),
                     [p.district_th, p.province_th].filter(Boolean).join(", ")];
      for (const c of cells) {
        const td = document.createElement("td");
        td.textContent = c;
        tr.appendChild(td);
      }
      tr.addEventListener("click", () => {
        // The move reloads the view (moveend): open the popup again once it is redrawn.
        openAfterDraw = `${layer.id}/${f.id}`;
        const [lng, lat] = f.geometry.coordinates;
        map.setView([lat, lng], Math.max(map.getZoom(), 14), { animate: false });
        const m = markers.get(openAfterDraw);
        if (m) m.openPopup();
      });
      body.appendChild(tr);
    }
    table.replaceChild(body, table.tBodies[0]);
  }

  // ---- drawing ----------------------------------------------------------------------------
  function viewBbox() {
    const b = map.getBounds().pad(0.1);
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
            clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].map((v) => v.toFixed(5)).join(",");
  }

  function clusterIcon(count, color) {
    const size = Math.round(24 + Math.min(28, Math.log10(count + 1) * 10));
    return L.divIcon({
      html: iconBox("cluster-icon", count >= 1000 ? (count / 1000).toFixed(1) + "k" : String(count),
                    { width: `${size}px`, height: `${size}px`, background: color }),
      className: "cddgis-cluster", iconSize: [size, size],
    });
  }

  // ---- the grid of counts, from vector tiles (protomaps-leaflet draws them on a canvas) ------
  // A tile below zoom 8 holds one point per grid cell with its `count`: a circle sized by it and
  // the count as text. The tiles take the same filters as the items, so the grid is what the
  // counts say; the server caches them, and their versioned URLs let the browser keep them.
  const P = window.protomapsL;
  const gridLayer = window.cddgisGridLayer;
  // Shows the grids of `ids` with these filters (none when zoomed in); a grid whose filters did
  // not change is kept as it is, so panning only fetches the new tiles.
  function showGrids(ids, filters) {
    const wanted = new Map(ids.map((id) => [id, tileUrl(api, id, filters)]));
    for (const [id, g] of gridLayers) {
      if (wanted.get(id) !== g.url) { map.removeLayer(g.layer); gridLayers.delete(id); }
    }
    for (const [id, url] of wanted) {
      if (!gridLayers.has(id)) {
        gridLayers.set(id, { url, layer: gridLayer(byId[id].id, byId[id].color, url).addTo(map) });
      }
    }
  }

  async function update() {
    const mine = busy();
    const layers = activeLayers();
    el("status").textContent = "กำลังโหลด… Loading…";
    writeUrl();
    const filters = filterParams();
    const csvParams = new URLSearchParams(filters);
    csvParams.set("f", "csv");
    el("csv-link").href = layers.length === 1 ?
      `${api}/collections/${layers[0]}/items?${csvParams}` : "#";
    el("csv-link").hidden = layers.length !== 1;
    try {
      const zoom = map.getZoom();
      const bbox = viewBbox();
      const tiled = Boolean(P && gridLayer) && zoom < TILES_BELOW;
      const perLayer = Math.max(20, Math.floor(TABLE_ROWS / layers.length));
      const results = await Promise.all(layers.map(async (id) => {
        const withBbox = new URLSearchParams(filters);
        withBbox.set("bbox", bbox);
        const total = new URLSearchParams(filters);
        total.set("limit", 1);
        if (tiled) {
          // The grid is drawn from tiles: the rows for the table also count what is in view.
          const tableParams = new URLSearchParams(withBbox);
          tableParams.set("limit", perLayer);
          const [items, totalFc] = await Promise.all([
            getJSON(`${api}/collections/${id}/items?${tableParams}`),
            getJSON(`${api}/collections/${id}/items?${total}`),
          ]);
          return { layer: byId[id], clusters: null, total: totalFc.numberMatched,
                   inView: items.numberMatched, items, tiled: true };
        }
        const clusterParams = new URLSearchParams(withBbox);
        clusterParams.set("zoom", zoom);
        const [clusters, totalFc] = await Promise.all([
          getJSON(`${api}/collections/${id}/clusters?${clusterParams}`),
          getJSON(`${api}/collections/${id}/items?${total}`),
        ]);
        const inView = clusters.numberMatched;
        const itemParams = new URLSearchParams(withBbox);
        itemParams.set("limit", inView <= POINTS_BELOW ? POINTS_BELOW : perLayer);
        const items = inView > 0 ? await getJSON(`${api}/collections/${id}/items?${itemParams}`) : { features: [] };
        return { layer: byId[id], clusters, total: totalFc.numberMatched, inView, items };
      }));
      if (!current(mine)) return;
      drawn.clearLayers();
      markers.clear();
      showGrids(tiled ? layers : [], filters);
      const rows = [];
      for (const r of results) {
        if (r.tiled) {
          // The grid layer draws it (showGrids above).
        } else if (r.inView <= POINTS_BELOW) {
          for (const f of r.items.features) {
            const [lng, lat] = f.geometry.coordinates;
            const m = L.circleMarker([lat, lng], {
              radius: 6, color: "#fff", weight: 1.5, fillColor: r.layer.color, fillOpacity: 0.9,
              className: `cddgis-point layer-${r.layer.id}`,
            });
            m.bindPopup(() => popupContent(r.layer, f.properties));
            m.bindTooltip(tip(f.properties[r.layer.name_field] || f.id));
            m.addTo(drawn);
            markers.set(`${r.layer.id}/${f.id}`, m);
          }
        } else {
          for (const [lng, lat, count] of r.clusters.clusters) {
            const m = L.marker([lat, lng], { icon: clusterIcon(count, r.layer.color) });
            m.on("click", () => map.setView([lat, lng], Math.min(map.getZoom() + 2, 18)));
            m.addTo(drawn);
          }
        }
        const tableRows = r.items.features.slice(0, Math.floor(TABLE_ROWS / results.length));
        for (const f of tableRows) rows.push([r.layer, f]);
      }
      const total = results.reduce((s, r) => s + r.total, 0);
      const inView = results.reduce((s, r) => s + r.inView, 0);
      el("count-total").textContent = fmt.format(total);
      el("count-view").textContent = fmt.format(inView);
      el("count-total").dataset.value = total;
      el("count-view").dataset.value = inView;
      el("layer-counts").replaceChildren(...(cfg.single ? [] : results.map((r) => {
        const li = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.dataset.layer = r.layer.id;  // coloured by the page's (nonce'd) style block
        li.append(swatch, `${r.layer.title_th}: ${fmt.format(r.total)}`);
        return li;
      })));
      renderTable(rows);
      if (openAfterDraw && markers.has(openAfterDraw)) markers.get(openAfterDraw).openPopup();
      openAfterDraw = null;
      el("table-note").textContent = inView > rows.length ?
        `แสดง ${fmt.format(rows.length)} จาก ${fmt.format(inView)} รายการ — showing ${rows.length} of ${inView}; zoom in for more` : "";
      el("status").textContent = "";
      ready(mine);
    } catch (err) {
      if (!failed(mine)) return;
      el("status").textContent = `โหลดข้อมูลไม่สำเร็จ — Could not load: ${err.message}`;
    }
  }

  // ---- wiring -----------------------------------------------------------------------------
  function loadFailed(view, err) {
    if (failed(view)) el("status").textContent = `โหลดข้อมูลไม่สำเร็จ — Could not load: ${err.message}`;
  }

  // Map moves come in bursts: wait for the last one. Busy at once all the same, so the page never
  // says "ready" for a view it is about to replace.
  let timer = null;
  const soon = () => { busy(); clearTimeout(timer); timer = setTimeout(update, 150); };

  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("change", async (e) => {
    const name = e.target.name;
    const mine = busy();  // before the area lists are fetched
    try {
      if (await areaChain.changed(name)) await zoomToArea();
    } catch (err) {
      loadFailed(mine, err);
      return;
    }
    soon();
  });
  copyLinkButton(el("copy-link"));
  const switcher = document.getElementById("layer-switcher");
  if (switcher) switcher.addEventListener("change", soon);
  const first = busy();
  readUrl().then(() => {
    map.on("moveend", soon);  // only after the link's view is restored
    return update();
  }, (err) => loadFailed(first, err));
})();
