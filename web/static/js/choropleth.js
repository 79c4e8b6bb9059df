// Choropleth explorer for planners: indicator, year (or change between years), level and area,
// classification (computed on the server with mapclassify), legend with counts, hover details,
// click to drill down, a table (sort both ways, search, keyboard), CSV, standalone HTML and PNG
// downloads, a copy-link button. The URL keeps it all, and Back walks back up a drill-down.
(function () {
  "use strict";
  const { getJSON, esc, busy, current, ready, failed, formatNumber, formatBounds, formatYear,
          copyLinkButton } = window.cddgisCommon;
  const cfg = window.CDDGIS;
  const map = window.cddgisCommon.pageMap();
  const api = cfg.api.replace(/\/$/, "");
  const el = (id) => document.getElementById(id);
  const form = el("cform");
  const areaChain = window.cddgisAreas.chain(
    api, { region: el("c-region"), province: el("c-province"), district: el("c-district") },
    { blank: { districts: "ทั้งจังหวัด — Whole province" } });
  const byId = Object.fromEntries(cfg.indicators.map((i) => [i.id, i]));
  const LEVELS = ["region", "province", "district", "subdistrict"];
  let layer = null;
  let rows = [];
  let shown = null;  // the last values body drawn (legend, table, PNG)
  // The table's own state, kept in the URL with the form's (`sort=value-desc`, `q=`).
  const SORTS = { rank: "asc", name: "asc", district: "asc", province: "asc", value: "desc",
                  value_year: "desc", value_compare: "desc", change_pct: "desc" };
  let sortKey = "rank";
  let sortDir = "asc";
  let activeCode = null;  // the row that takes Tab (one tab stop for the whole table)
  // What the form says with nothing in the URL: Back to a URL without a field means its default.
  const defaults = Object.fromEntries([...form.elements].filter((i) => i.name)
    .map((i) => [i.name, i.value]));

  // ---- the form -----------------------------------------------------------------------------
  function indicator() { return byId[el("c-indicator").value]; }

  function fillYears(keepYear, keepCompare) {
    const years = indicator().years;
    const yearSel = el("c-year"), cmpSel = el("c-compare");
    yearSel.innerHTML = years.length ? years.map((y) => `<option value="${y}">${formatYear(y)}</option>`).reverse().join("")
                                     : '<option value="">—</option>';
    yearSel.disabled = !years.length;
    yearSel.value = years.includes(Number(keepYear)) ? keepYear : (years.length ? String(years[years.length - 1]) : "");
    cmpSel.innerHTML = '<option value="">ไม่เทียบ — none</option>' +
      years.map((y) => `<option value="${y}">${formatYear(y)}</option>`).join("");
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

  // The whole view for the address bar and the permalink: the form and the table's sort/search.
  function pageState() {
    const p = state();
    if (sortKey !== "rank" || sortDir !== "asc") p.set("sort", `${sortKey}-${sortDir}`);
    if (el("table-search").value.trim()) p.set("q", el("table-search").value.trim());
    return p;
  }

  async function readUrl() {
    const q = new URLSearchParams(location.search);
    el("c-indicator").value = q.get("indicator") && byId[q.get("indicator")] ? q.get("indicator") : defaults.indicator;
    fillYears(q.get("year"), q.get("compare"));
    fillLevels(q.get("level") || "province");
    // A field the URL leaves out takes its default: Back from a drill-down must not keep the
    // province it drilled into (issue 15).
    for (const name of ["region", "province", "classify", "k", "scheme", "breaks"]) {
      const input = form.elements[name];
      input.value = q.has(name) ? q.get(name) : defaults[name];
    }
    const [key, dir] = (q.get("sort") || "").split("-");
    sortKey = SORTS[key] ? key : "rank";
    sortDir = dir === "asc" || dir === "desc" ? dir : SORTS[sortKey];
    el("table-search").value = q.get("q") || "";
    areaChain.showRegion(el("c-region").value);
    await areaChain.districts(el("c-province").value, q.get("district"));
    el("breaks-row").hidden = el("c-method").value !== "manual";
  }

  // ---- legend, title and table --------------------------------------------------------------
  const isChange = (body) => body.measure === "change";
  // A value as shown everywhere on the page: Thai digits grouping, significant digits for small
  // rates, and the sign of a change.
  function valueText(value, body) {
    return formatNumber(value, { signed: isChange(body) });
  }

  function titleText(body) {
    const i = body.indicator;
    const when = isChange(body) ? `เปลี่ยนแปลง พ.ศ. ${formatYear(body.compare)}→${formatYear(body.year)}`
      : body.year ? `พ.ศ. ${formatYear(body.year)}` : "";
    const where = [el("c-district").selectedOptions[0], el("c-province").selectedOptions[0],
                   el("c-region").selectedOptions[0]]
      .find((o) => o && o.value);
    return [`${i.title_th}`, when, where ? where.textContent.split(" — ")[0] : ""].filter(Boolean).join(" · ");
  }

  function legendTitle(body) {
    const unit = body.indicator.unit;
    if (!isChange(body)) return unit;
    const c = body.classification;
    const signs = { "+": "เพิ่มขึ้นทุกพื้นที่ — every area rose", "−": "ลดลงทุกพื้นที่ — every area fell",
                    "±": "เพิ่ม (+) และลด (−) — rises and falls, centred on 0" }[c.signs] || "";
    return `เปลี่ยนแปลง (${unit}) · ${signs}`;
  }

  // Legend rows: [colour, label, count, kind]; shared by the on-map legend and the PNG.
  function legendRows(body) {
    const c = body.classification;
    const bounds = c.legend.flatMap((x) => [x.lower, x.upper]);
    const labels = formatBounds(bounds, { signed: isChange(body) });
    const out = c.legend.map((x, i) => [x.color, `${labels[2 * i]} – ${labels[2 * i + 1]}` +
                                        (x.note ? ` (${x.note})` : ""), x.count, "data-class"]);
    if (c.no_data.count) out.push([c.no_data.color, "ไม่มีข้อมูล — no data", c.no_data.count, "data-nodata"]);
    return out;
  }

  function legend(body) {
    const c = body.classification;
    // Built through the DOM: the CSP allows no style="" in markup.
    function row([color, label, count, kind]) {
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
      n.textContent = `(${formatNumber(count)})`;
      div.append(swatch, text, n);
      return div;
    }
    const h3 = document.createElement("h3");
    h3.textContent = legendTitle(body);
    el("legend").replaceChildren(h3, ...legendRows(body).map(row));
    el("legend").dataset.method = c.method;
    el("legend").dataset.classes = c.legend.length;
    el("legend").dataset.diverging = String(Boolean(c.diverging));
    el("map-title").textContent = titleText(body);
  }

  // The on-map control that holds the title and legend (moved there from the panel).
  const legendControl = L.control({ position: "bottomright" });
  legendControl.onAdd = () => {
    const box = el("map-legend");
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    box.classList.add("leaflet-control");
    return box;
  };
  legendControl.addTo(map);
  // On a phone the legend folds (it covered half the map): the title stays, the classes open
  // on a tap; the button says which (issue 23, item 6).
  const legendToggle = el("legend-toggle");
  function foldLegend(folded) {
    el("map-legend").classList.toggle("folded", folded);
    legendToggle.setAttribute("aria-expanded", String(!folded));
  }
  legendToggle.addEventListener("click", () => foldLegend(!el("map-legend").classList.contains("folded")));
  foldLegend(window.matchMedia("(max-width: 700px)").matches);

  function columns(level) {
    return [
      ["rank", "อันดับ", "Rank", "num"],
      ["name", "พื้นที่", "Area", ""],
      ...(level === "subdistrict" ? [["district", "อำเภอ", "District", ""]] : []),
      ...(level === "subdistrict" || level === "district" ? [["province", "จังหวัด", "Province", ""]] : []),
      // A change between years shows both years and the % change beside it (issue 23, item 4).
      ...(shown && isChange(shown) ? [
        ["value_compare", `พ.ศ. ${formatYear(shown.compare)}`, `B.E. ${formatYear(shown.compare)}`, "num"],
        ["value_year", `พ.ศ. ${formatYear(shown.year)}`, `B.E. ${formatYear(shown.year)}`, "num"],
        ["value", "เปลี่ยนแปลง", "Change", "num"],
        ["change_pct", "% เปลี่ยนแปลง", "% change", "num"],
      ] : [["value", "ค่า", "Value", "num"]]),
    ];
  }

  function renderHead(cols) {
    const tr = document.createElement("tr");
    for (const [key, th, en, cls] of cols) {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.dataset.sort = key;
      if (cls) cell.className = cls;
      cell.setAttribute("aria-sort", key === sortKey ? (sortDir === "asc" ? "ascending" : "descending") : "none");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "sort";
      const en_ = document.createElement("span");
      en_.className = "en";
      en_.textContent = en;
      const arrow = document.createElement("span");
      arrow.className = "arrow";
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = key === sortKey ? (sortDir === "asc" ? " ▲" : " ▼") : "";
      b.append(`${th} `, en_, arrow);
      b.addEventListener("click", () => {
        if (sortKey === key) sortDir = sortDir === "asc" ? "desc" : "asc";
        else { sortKey = key; sortDir = SORTS[key]; }
        renderTable();
        writeState();
        el("ctable").querySelector(`th[data-sort="${key}"] button`).focus();
      });
      cell.appendChild(b);
      tr.appendChild(cell);
    }
    el("ctable").tHead.replaceChildren(tr);
  }

  const FIELD = { name: "name_th", district: "district_th", province: "province_th" };
  function compareRows(a, b) {
    const dir = sortDir === "asc" ? 1 : -1;
    if (FIELD[sortKey]) {
      return dir * (a[FIELD[sortKey]] || "").localeCompare(b[FIELD[sortKey]] || "", "th") ||
             a.code.localeCompare(b.code);
    }
    const av = a[sortKey], bv = b[sortKey];
    if (av == null && bv == null) return a.code.localeCompare(b.code);
    if (av == null) return 1;  // no data last, either way
    if (bv == null) return -1;
    return dir * (av - bv) || a.code.localeCompare(b.code);
  }

  function matches(r, words) {
    const hay = [r.code, r.name_th, r.name_en, r.district_th, r.province_th].filter(Boolean)
      .join(" ").toLowerCase();
    return words.every((w) => hay.includes(w));
  }

  function renderTable() {
    const level = shown ? shown.level : el("c-level").value;
    const cols = columns(level);
    renderHead(cols);
    const words = el("table-search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const visible = rows.filter((r) => matches(r, words)).sort(compareRows);
    if (!visible.some((r) => r.code === activeCode)) activeCode = visible.length ? visible[0].code : null;
    const body = document.createElement("tbody");
    for (const r of visible) {
      const tr = document.createElement("tr");
      tr.dataset.code = r.code;
      tr.tabIndex = r.code === activeCode ? 0 : -1;
      const cells = { rank: r.rank == null ? "–" : formatNumber(r.rank), name: r.name_th,
                      district: r.district_th || "", province: r.province_th || "",
                      value: r.value == null ? "ไม่มีข้อมูล" : valueText(r.value, shown),
                      value_year: r.value_year == null ? "ไม่มีข้อมูล" : formatNumber(r.value_year),
                      value_compare: r.value_compare == null ? "ไม่มีข้อมูล" : formatNumber(r.value_compare),
                      change_pct: r.change_pct == null ? "–" : `${formatNumber(r.change_pct, { signed: true })} %` };
      for (const [key, , , cls] of cols) {
        const td = document.createElement(key === "name" ? "th" : "td");
        if (key === "name") {
          td.scope = "row";
          td.textContent = r.name_th;
          if (r.name_en) {
            const en = document.createElement("span");
            en.className = "en";
            en.textContent = ` ${r.name_en}`;
            td.appendChild(en);
          }
        } else {
          td.textContent = cells[key];
        }
        td.dataset.col = key;
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    el("ctable").replaceChild(body, el("ctable").tBodies[0]);
    el("table-note").textContent = words.length ?
      `พบ ${formatNumber(visible.length)} จาก ${formatNumber(rows.length)} พื้นที่ — ${visible.length} of ${rows.length} areas` :
      `${formatNumber(rows.length)} พื้นที่ — areas`;
  }

  // One tab stop for the table: arrow keys move between rows, Enter (or Space) zooms to the row.
  function focusRow(tr) {
    if (!tr) return;
    for (const other of el("ctable").tBodies[0].querySelectorAll("tr[tabindex='0']")) other.tabIndex = -1;
    tr.tabIndex = 0;
    activeCode = tr.dataset.code;
    tr.focus();
  }
  el("ctable").addEventListener("keydown", (e) => {
    const tr = e.target.closest("tbody tr");
    if (!tr) return;
    const all = [...el("ctable").tBodies[0].rows];
    const i = all.indexOf(tr);
    const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: all.length - 1,
                 PageDown: i + 10, PageUp: i - 10 }[e.key];
    if (to !== undefined) {
      e.preventDefault();
      focusRow(all[Math.max(0, Math.min(all.length - 1, to))]);
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      drill(tr.dataset.code);
    }
  });
  el("ctable").addEventListener("click", (e) => {
    const tr = e.target.closest("tbody tr");
    if (tr) { focusRow(tr); drill(tr.dataset.code); }
  });
  let searchTimer = null;
  el("table-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { renderTable(); writeState(); }, 150);
  });

  // The address bar and permalink follow the table too (no new history entry for it).
  function writeState() {
    history.replaceState(null, "", `${location.pathname}?${pageState()}`);
    el("permalink").href = location.href;
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
    const value = v.value == null ? "ไม่มีข้อมูล — no data" : `${valueText(v.value, body)} ${body.indicator.unit}`;
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

  // Down to the area's children; at the deepest level there is, the map zooms to the area.
  async function drill(code) {
    const level = el("c-level").value;
    const next = nextLevel(level);
    if (!next || !indicator().levels.includes(next)) {
      const collection = { province: "provinces", district: "districts", subdistrict: "subdistricts" }[level];
      if (!collection) {
        el("status").textContent = "ตัวชี้วัดนี้มีข้อมูลถึงระดับนี้เท่านั้น — this indicator goes no deeper";
        return;
      }
      const mine = busy();
      try {
        const feature = await getJSON(`${api}/collections/${collection}/items/${encodeURIComponent(code)}?lod=1`);
        if (!current(mine)) return;
        map.fitBounds(L.geoJSON(feature).getBounds(), { animate: false, padding: [20, 20] });
        map.getContainer().dataset.zoomed = code;
        // Say why the map only zoomed (issue 23): this indicator has nothing below this level.
        const LEVEL_TH = { region: "ภาค", province: "จังหวัด", district: "อำเภอ", subdistrict: "ตำบล" };
        const name = feature.properties.name_th || code;
        const note = el("map-note");
        const dash = document.createElement("a");
        dash.href = `/dashboard?${new URLSearchParams({ [level]: code })}`;
        dash.textContent = `แดชบอร์ดของ${name} — its dashboard`;
        note.replaceChildren(
          `ตัวชี้วัดนี้มีข้อมูลถึงระดับ${LEVEL_TH[level]}เท่านั้น จึงซูมไปที่${name} — `
          + `this indicator has no figures below the ${level} level, so the map zoomed to ${feature.properties.name_en || name}. `,
          dash);
        note.hidden = false;
        ready(mine);
      } catch (err) {
        if (failed(mine)) el("status").textContent = `โหลดไม่สำเร็จ — ${err.message}`;
      }
      return;
    }
    const q = pageState();
    q.delete("q");  // the search was for this level's names
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

  // A refused breaks list is said beside the field, and the map and legend are marked as not
  // showing it (issue 23: the error was below the fold with the old legend still shown).
  function breaksProblem(message) {
    const box = el("breaks-error");
    box.textContent = message || "";
    box.hidden = !message;
    el("c-breaks").setAttribute("aria-invalid", String(Boolean(message)));
    el("map-legend").classList.toggle("stale", Boolean(message));
    map.getContainer().classList.toggle("stale", Boolean(message));
  }

  async function update(fit) {
    const mine = busy();
    el("map-note").hidden = true;
    el("status").textContent = "กำลังโหลด… Loading…";
    const q = state();
    const scope = new URLSearchParams();
    for (const k of ["level", "region", "province", "district"]) if (q.get(k)) scope.set(k, q.get(k));
    const valuesQuery = new URLSearchParams(q);
    valuesQuery.delete("indicator");
    writeState();
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
          const value = v.value == null ? "ไม่มีข้อมูล — no data" : `${valueText(v.value, body)} ${unit}`;
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
      shown = body;
      legend(body);
      renderTable();
      const csv = new URLSearchParams(valuesQuery);
      csv.set("f", "csv");
      el("csv-link").href = `${api}/indicators/${encodeURIComponent(q.get("indicator"))}/values?${csv}`;
      el("html-link").href = `${cfg.exportUrl}?${q}`;
      el("source").textContent = `ที่มา / Source: ${body.indicator.source} (${body.indicator.licence})`;
      el("status").textContent = "";
      breaksProblem(null);
      ready(mine);
    } catch (err) {
      if (!failed(mine)) return;
      el("status").textContent = `โหลดไม่สำเร็จ — ${err.message}`;
      if (/breaks|manual classes/.test(err.message)) {
        breaksProblem(`ขอบชั้นใช้ไม่ได้: ${err.message} — แผนที่ยังแสดงการจำแนกเดิม (the map still shows the previous classes)`);
        el("c-breaks").focus();
      }
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
  copyLinkButton(el("copy-link"));
  el("png-export").addEventListener("click", () => {
    if (shown) window.cddgisMapPng.download(map, titleText(shown), legendTitle(shown), legendRows(shown),
      el("source").textContent, `${shown.indicator.id}-${shown.level}-${shown.year || "all"}.png`);
  });
  window.addEventListener("popstate", reload);
  reload();
})();
