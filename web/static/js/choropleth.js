// Choropleth explorer for planners: indicator, year (or change between years), level and area,
// classification (computed on the server with mapclassify), legend with counts, hover details,
// click to drill down, sortable table, CSV and standalone HTML downloads. The URL keeps it all.
(function () {
  "use strict";
  const { getJSON, esc, busy, current, ready, failed } = window.cddgisCommon;
  const cfg = window.CDDGIS;
  const map = window[cfg.mapName];
  const api = cfg.api.replace(/\/$/, "");
  const el = (id) => document.getElementById(id);
  const form = el("cform");
  const areaChain = window.cddgisAreas.chain(
    api, { region: el("c-region"), province: el("c-province"), district: el("c-district") },
    { blank: { districts: "ทั้งจังหวัด — Whole province" } });
  const byId = Object.fromEntries(cfg.indicators.map((i) => [i.id, i]));
  const LEVELS = ["region", "province", "district", "subdistrict"];
  const fmt = new Intl.NumberFormat("th-TH", { maximumFractionDigits: 2 });
  let layer = null;
  let rows = [];
  let sortKey = "rank";

  // ---- the form -----------------------------------------------------------------------------
  function indicator() { return byId[el("c-indicator").value]; }

  function fillYears(keepYear, keepCompare) {
    const years = indicator().years;
    const yearSel = el("c-year"), cmpSel = el("c-compare");
    yearSel.innerHTML = years.length ? years.map((y) => `<option value="${y}">${y}</option>`).reverse().join("")
                                     : '<option value="">—</option>';
    yearSel.disabled = !years.length;
    yearSel.value = years.includes(Number(keepYear)) ? keepYear : (years.length ? String(years[years.length - 1]) : "");
    cmpSel.innerHTML = '<option value="">ไม่เทียบ — none</option>' +
      years.map((y) => `<option value="${y}">${y}</option>`).join("");
    cmpSel.disabled = years.length < 2;
    cmpSel.value = years.includes(Number(keepCompare)) && keepCompare !== yearSel.value ? keepCompare : "";
  }

  function fillLevels(keep) {
    const levels = indicator().levels;
    for (const opt of el("c-level").options) opt.disabled = !levels.includes(opt.value);
    el("c-level").value = levels.includes(keep) ? keep : levels[levels.length > 1 ? 1 : 0];
  }

  function state() {
    const p = new URLSearchParams();
    for (const input of form.elements) {
      if (input.name && !input.disabled && input.value && !(input.name === "breaks" && el("c-method").value !== "manual")) {
        p.set(input.name, input.value);
      }
    }
    return p;
  }

  async function readUrl() {
    const q = new URLSearchParams(location.search);
    if (q.get("indicator") && byId[q.get("indicator")]) el("c-indicator").value = q.get("indicator");
    fillYears(q.get("year"), q.get("compare"));
    fillLevels(q.get("level") || "province");
    for (const name of ["region", "province", "classify", "k", "scheme", "breaks"]) {
      const input = form.elements[name];
      if (q.has(name)) input.value = q.get(name);
    }
    areaChain.showRegion(el("c-region").value);
    await areaChain.districts(el("c-province").value, q.get("district"));
    el("breaks-row").hidden = el("c-method").value !== "manual";
  }

  // ---- drawing ------------------------------------------------------------------------------
  function legend(body) {
    const c = body.classification;
    const unit = body.indicator.unit;
    const title = body.measure === "change" ? `เปลี่ยนแปลง ${body.compare}→${body.year} (${unit})` : unit;
    // Built through the DOM: the CSP allows no style="" in markup.
    function row(kind, color, label, count) {
      const div = document.createElement("div");
      div.className = "row";
      div.setAttribute(kind, "");
      const swatch = document.createElement("span");
      swatch.className = "swatch-box";
      swatch.style.background = color;
      if (kind === "data-nodata") {
        swatch.style.backgroundImage = "repeating-linear-gradient(45deg,#fff 0 2px,transparent 2px 5px)";
      }
      const text = document.createElement("span");
      text.textContent = label;
      const n = document.createElement("span");
      n.className = "muted";
      n.textContent = `(${count})`;
      div.append(swatch, text, n);
      return div;
    }
    const items = c.legend.map((x) =>
      row("data-class", x.color, `${fmt.format(x.lower)} – ${fmt.format(x.upper)}`, x.count));
    if (c.no_data.count) items.push(row("data-nodata", c.no_data.color, "ไม่มีข้อมูล — no data", c.no_data.count));
    const h3 = document.createElement("h3");
    h3.textContent = title;
    el("legend").replaceChildren(h3, ...items);
    el("legend").dataset.method = c.method;
    el("legend").dataset.classes = c.legend.length;
  }

  function renderTable() {
    const sorted = [...rows].sort((a, b) => {
      if (sortKey === "name") return a.name_th.localeCompare(b.name_th, "th");
      const av = a[sortKey], bv = b[sortKey];
      if (av == null) return 1;
      if (bv == null) return -1;
      return sortKey === "value" ? bv - av : av - bv;
    });
    const body = document.createElement("tbody");
    for (const r of sorted) {
      const tr = document.createElement("tr");
      tr.dataset.code = r.code;
      for (const [text, cls] of [[r.rank ?? "–", "num"], [r.name_th, ""],
                                 [r.value == null ? "ไม่มีข้อมูล" : fmt.format(r.value), "num"]]) {
        const td = document.createElement("td");
        td.textContent = text;
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      tr.addEventListener("click", () => drill(r.code));
      body.appendChild(tr);
    }
    el("ctable").replaceChild(body, el("ctable").tBodies[0]);
    for (const th of el("ctable").tHead.querySelectorAll("th")) {
      th.classList.toggle("sorted", th.dataset.sort === sortKey);
    }
  }

  // The nationwide (or regional) subdistrict map is drawn from vector tiles: 7,425 areas as
  // SVG paths took longer to draw and to redraw after every pan and zoom than the same areas
  // on a few canvases (docs/benchmarks.md, "Nationwide subdistrict choropleth"). Smaller sets
  // (provinces, districts, one province's subdistricts) stay GeoJSON, which is faster there.
  // `draw=geojson|tiles` in the address forces one or the other (for measuring).
  const areaTiles = window.cddgisAreaTiles;
  let tiles = null;
  const forced = new URLSearchParams(location.search).get("draw");  // read before the URL is rewritten
  function fromTiles(scope) {
    if (!areaTiles || forced === "geojson") return false;
    if (forced === "tiles") return true;
    return scope.get("level") === "subdistrict" && !scope.get("province") && !scope.get("district");
  }

  function removeAreas() {
    if (layer) { map.removeLayer(layer); layer = null; }
    if (tiles) { tiles.remove(); tiles = null; }
  }

  function tooltipHtml(v, props, body) {
    const value = v.value == null ? "ไม่มีข้อมูล — no data" : `${fmt.format(v.value)} ${body.indicator.unit}`;
    return `<strong>${esc(v.name_th || props.name_th)}</strong> ${esc(v.name_en || "")}<br>` +
           `${esc(value)}${v.rank ? `<br>อันดับ ${v.rank} / ${body.values.length}` : ""}`;
  }

  const THAILAND = L.latLngBounds([5.61, 97.34], [20.47, 105.64]);
  async function drawTiles(body, byCode, scope, fit) {
    let bounds = THAILAND;
    if (fit && scope.get("region")) {
      // The region's outline from its provinces (a small, cached answer).
      const provinces = await getJSON(`${api}/choropleth/areas?level=province&region=${encodeURIComponent(scope.get("region"))}`);
      bounds = L.geoJSON(provinces).getBounds();
    }
    removeAreas();
    const params = new URLSearchParams();
    for (const k of ["region", "province", "district"]) if (scope.get(k)) params.set(k, scope.get(k));
    const level = scope.get("level");
    tiles = areaTiles(map, {
      api, collection: `${level}s`, params, className: "cddgis-choropleth-tiles",
      fill: (p) => {
        const v = byCode[p.code];
        return { color: v ? v.color : "#d1d5db", opacity: v && v.value != null ? 0.85 : 0.5 };
      },
      line: { color: "#ffffff", width: 0.6 },
      tooltip: (p) => tooltipHtml(byCode[p.code] || {}, p, body),
      click: (p) => drill(p.code),
    });
    if (fit) {
      map.invalidateSize();
      map.fitBounds(bounds, { animate: false });
    }
  }

  function nextLevel(level) { return LEVELS[LEVELS.indexOf(level) + 1]; }

  function drill(code) {
    const level = el("c-level").value;
    const next = nextLevel(level);
    if (!next || !indicator().levels.includes(next)) {
      el("status").textContent = "ตัวชี้วัดนี้มีข้อมูลถึงระดับนี้เท่านั้น — this indicator goes no deeper";
      return;
    }
    const q = state();
    q.set("level", next);
    if (level === "region") { q.set("region", code); q.delete("province"); q.delete("district"); }
    if (level === "province") { q.set("province", code); q.delete("district"); }
    if (level === "district") { q.set("district", code); q.set("province", code.slice(0, 2)); }
    history.pushState(null, "", `${location.pathname}?${q}`);
    reload();
  }

  // The URL changed (a drill-down, back/forward, the first load): busy at once, before the
  // district list is fetched, so the previous view's "ready" is never mistaken for this one's.
  function reload() {
    const mine = busy();
    readUrl().then(() => update(true), (err) => {
      if (failed(mine)) el("status").textContent = `โหลดไม่สำเร็จ — ${err.message}`;
    });
  }

  async function update(fit) {
    const mine = busy();
    el("status").textContent = "กำลังโหลด… Loading…";
    const q = state();
    const scope = new URLSearchParams();
    for (const k of ["level", "region", "province", "district"]) if (q.get(k)) scope.set(k, q.get(k));
    const valuesQuery = new URLSearchParams(q);
    valuesQuery.delete("indicator");
    history.replaceState(null, "", `${location.pathname}?${q}`);
    el("permalink").href = location.href;
    try {
      const tiled = fromTiles(scope);
      const [geo, body] = await Promise.all([
        tiled ? null : getJSON(`${api}/choropleth/areas?${scope}`),
        getJSON(`${api}/indicators/${encodeURIComponent(q.get("indicator"))}/values?${valuesQuery}`),
      ]);
      if (!current(mine)) return;
      const byCode = Object.fromEntries(body.values.map((v) => [v.code, v]));
      rows = body.values;
      if (tiled) {
        await drawTiles(body, byCode, scope, fit);
        if (!current(mine)) return;
      } else {
      removeAreas();
      const unit = body.indicator.unit;
      layer = L.geoJSON(geo, {
        style: (f) => {
          const v = byCode[f.properties.code];
          return { fillColor: v ? v.color : "#d1d5db", color: "#ffffff", weight: 0.6,
                   fillOpacity: v && v.value != null ? 0.85 : 0.5,
                   className: `area area-${v && v.class != null ? "c" + v.class : "nodata"}` };
        },
        onEachFeature: (f, lyr) => {
          const v = byCode[f.properties.code] || {};
          const value = v.value == null ? "ไม่มีข้อมูล — no data" : `${fmt.format(v.value)} ${unit}`;
          lyr.bindTooltip(`<strong>${esc(v.name_th || f.properties.name_th)}</strong> ${esc(v.name_en || "")}<br>` +
                          `${esc(value)}${v.rank ? `<br>อันดับ ${v.rank} / ${body.values.length}` : ""}`,
                          { sticky: true });
          lyr.on("click", () => drill(f.properties.code));
        },
      }).addTo(map);
      if (fit && layer.getBounds().isValid()) {
        map.invalidateSize();
        map.fitBounds(layer.getBounds(), { animate: false });
      }
      }
      legend(body);
      renderTable();
      const csv = new URLSearchParams(valuesQuery);
      csv.set("f", "csv");
      el("csv-link").href = `${api}/indicators/${encodeURIComponent(q.get("indicator"))}/values?${csv}`;
      el("html-link").href = `${cfg.exportUrl}?${q}`;
      el("source").textContent = `ที่มา / Source: ${body.indicator.source} (${body.indicator.licence})`;
      el("status").textContent = "";
      ready(mine);
    } catch (err) {
      if (!failed(mine)) return;
      el("status").textContent = `โหลดไม่สำเร็จ — ${err.message}`;
    }
  }

  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("change", async (e) => {
    const name = e.target.name;
    el("breaks-row").hidden = el("c-method").value !== "manual";
    // Manual breaks with none typed yet: wait for the breaks, the current view stays as it is.
    if (name === "classify" && e.target.value === "manual" && !el("c-breaks").value) return;
    const mine = busy();  // before the district list is fetched
    let fit = false;
    if (name === "indicator") {
      fillYears(el("c-year").value, "");
      fillLevels(el("c-level").value);
      fit = true;
    }
    if (name === "compare" || name === "indicator") {
      // A change between years wants a diverging scheme, a value a sequential one.
      const diverging = Boolean(el("c-compare").value);
      const isSeq = cfg.sequential.includes(el("c-scheme").value);
      if (diverging && isSeq) el("c-scheme").value = "RdBu";
      if (!diverging && !isSeq) el("c-scheme").value = "YlOrRd";
    }
    try {
      if (await areaChain.changed(name)) fit = true;
    } catch (err) {
      if (failed(mine)) el("status").textContent = `โหลดไม่สำเร็จ — ${err.message}`;
      return;
    }
    if (name === "district" || name === "level") fit = true;
    update(fit);
  });
  for (const th of el("ctable").tHead.querySelectorAll("th[data-sort]")) {
    th.addEventListener("click", () => { sortKey = th.dataset.sort; renderTable(); });
  }
  window.addEventListener("popstate", reload);
  reload();
})();
