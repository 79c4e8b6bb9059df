// The area dashboard (issue 14): cards, charts (vendored Apache ECharts) and the table behind
// every chart, from the summary the page carries as JSON (the same as
// /api/areas/{level}/{code}/summary). Drill-down and the drop-downs go to the child's own page
// (a permalink each); breadcrumbs go up. Names are set as text: they can hold anything.
(function () {
  "use strict";
  const { busy, ready, failed } = window.cddgisCommon;
  const view = busy(); // synchronously, before anything can wait
  const cfg = JSON.parse(document.getElementById("dashboard-config").textContent);
  const S = cfg.summary;
  const LEVEL_TH = { region: "ภาค", province: "จังหวัด", district: "อำเภอ", subdistrict: "ตำบล", village: "หมู่บ้าน" };
  const charts = [];

  // ---- numbers the Thai way (common.js: thousands separators, decimals only where they carry
  // meaning, small rates to 3 significant digits; B.E. years without a separator) ------------------
  const { formatNumber, formatYear } = window.cddgisCommon;
  const num = (x) => formatNumber(x);
  const pct = (x) => (x == null ? "—" : `${num(x * 100)} %`);
  const year = (y) => formatYear(y); // B.E., never "2,564"

  // ---- small DOM helpers -----------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null) continue;
      if (k === "text") node.textContent = v;
      else if (k === "className") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }
  const bi = (th, en) => [th, " ", el("span", { className: "en", text: en })];
  // Another area's dashboard, in the page's theme (it stays as the area changes).
  function areaUrl(q) {
    const next = S.theme ? { ...q, theme: S.theme.id } : q;
    const text = new URLSearchParams(next).toString();
    return `${location.pathname}${text ? "?" + text : ""}`;
  }
  // A chosen bar (cross-filter, issue 23 item 5) goes with the link: down, and in the URL.
  function childUrl(code) {
    const q = { [S.child_level]: code };
    if (S.filter) q.filter = filterText(S.filter);
    return areaUrl(q);
  }
  const filterText = (f) => `${f.layer}:${f.field}:${f.value == null ? "" : f.value}`;
  function filterUrl(f) {
    const q = new URLSearchParams(location.search);
    if (f) q.set("filter", filterText(f)); else q.delete("filter");
    const text = q.toString();
    return `${location.pathname}${text ? "?" + text : ""}`;
  }

  // ---- cards ---------------------------------------------------------------------------------
  // What a rank ranks among, and ties said as ties: sixteen districts all at 0 are "all equal",
  // not "1st of 16" (issue 23, item 3).
  function standing(x) {
    const among = S.ranked_among;
    const th = among ? `${among.level_th}ใน${among.parent_th}` : "";
    const en = among ? `${among.level_en.toLowerCase()}s of ${among.parent_en}` : "";
    if (x.all_equal) return bi(`เท่ากันทั้ง ${num(x.of)} ${th}`, `all ${num(x.of)} ${en} equal`);
    if (!x.rank || !x.of) return [];
    if (x.tied > 1) {
      return bi(`อันดับร่วม ${x.rank} จาก ${num(x.of)} ${th} (เท่ากัน ${num(x.tied)})`,
        `tied ${x.rank} of ${num(x.of)} ${en} (${num(x.tied)} equal)`);
    }
    return bi(`อันดับ ${x.rank} จาก ${num(x.of)} ${th}`, `rank ${x.rank} of ${num(x.of)} ${en}`);
  }
  function card(list, label, value, note, attrs = {}) {
    list.append(el("li", { className: "card", ...attrs },
      el("span", { className: "card-label" }, ...label),
      el("strong", { className: "card-value", text: value }),
      note ? el("span", { className: "card-note" }, ...note) : null));
  }

  function drawCards() {
    const list = document.getElementById("cards");
    if (S.population) {
      card(list, bi("ประชากร", "Population"), num(S.population.value),
        bi(`คน${S.population.year ? " ปี " + year(S.population.year) : ""}`, "people"),
        { "data-card": "population" });
    }
    card(list, bi("พื้นที่", "Area"), num(S.area.area_km2), bi("ตร.กม.", "km²"),
      { "data-card": "area" });
    for (const l of S.layers) {
      const notes = [];
      if (S.area.level !== "country") {
        const among = S.ranked_among;
        if (among) {  // the share of the parent: a district's share of its province
          notes.push(...bi(`${pct(l.parent_share)} ของ${among.parent_th}`, `of ${among.parent_en}`));
        } else {
          notes.push(...bi(`${pct(l.share)} ของประเทศ`, "of the country"));
        }
        const rank = standing(l);
        if (rank.length) notes.push(el("br"), ...rank);
      }
      if (l.per_people != null) {
        notes.push(el("br"), ...bi(`${num(l.per_people)} ต่อประชากร ${num(S.per_people)} คน`,
          `per ${num(S.per_people)} people`));
      }
      if (l.filtered_from != null) {
        notes.push(...bi(`กรองแล้ว จากทั้งหมด ${num(l.filtered_from)}`, `filtered, of ${num(l.filtered_from)}`));
      }
      const item = el("li", { className: "card layer-card", "data-card": l.id },
        el("span", { className: "card-label" }, el("i", { className: "dot", "data-color": l.color }),
          ...bi(l.title_th, l.title_en)),
        el("strong", { className: "card-value", text: num(l.count) }),
        notes.length ? el("span", { className: "card-note" }, ...notes) : null);
      item.querySelector(".dot").style.background = l.color; // CSP: style through the DOM
      list.append(item);
    }
    const ilist = document.getElementById("indicator-cards");
    for (const i of S.indicators) {
      const note = [];
      if (i.year) note.push(`ปี ${year(i.year)} `);
      note.push(...standing(i));
      if (i.aggregate) note.push(...bi(i.aggregate === "sum" ? "รวมทุกจังหวัด" : "ค่าเฉลี่ยของจังหวัด",
        i.aggregate === "sum" ? "sum of provinces" : "mean of provinces"));
      card(ilist, bi(i.title_th, i.title_en), `${num(i.value)} ${i.unit || ""}`.trim(), note,
        { "data-card": i.id });
    }
    document.getElementById("ind-section").hidden = S.indicators.length === 0;
  }

  // ---- tables: sortable, downloadable ----------------------------------------------------------
  function csvText(columns, rows) {
    const cell = (v) => {
      const s = v == null ? "" : String(v);
      return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const lines = [columns.map((c) => cell(`${c.th} (${c.en})`)).join(",")];
    for (const r of rows) lines.push(columns.map((c) => cell(r[c.key])).join(","));
    return "\ufeff" + lines.join("\n") + "\n";
  }

  function table(columns, rows, name, caption) {
    const wrap = el("div", { className: "table-wrap" });
    const t = el("table", { className: "data" }, el("caption", { text: caption }));
    const head = el("tr");
    let sorted = { key: null, dir: 1 };
    const body = el("tbody");
    function fill() {
      const list = [...rows];
      if (sorted.key) {
        const c = columns.find((x) => x.key === sorted.key);
        list.sort((a, b) => (c.numeric ? (a[c.key] ?? -Infinity) - (b[c.key] ?? -Infinity)
          : String(a[c.key]).localeCompare(String(b[c.key]), "th")) * sorted.dir);
      }
      body.replaceChildren(...list.map((r) => el("tr", {}, ...columns.map((c) => {
        const text = c.numeric ? num(r[c.key]) : c.format ? c.format(r[c.key]) : r[c.key];
        const td = el("td", { className: c.numeric ? "num" : null, "data-value": r[c.key] });
        if (c.link && r.code) td.append(el("a", { href: c.link(r), text, "data-child": r.code }));
        else td.textContent = text == null ? "" : text;
        return td;
      }))));
    }
    for (const c of columns) {
      const th = el("th", { scope: "col", "aria-sort": "none" });
      const button = el("button", { type: "button" }, ...bi(c.th, c.en));
      button.addEventListener("click", () => {
        sorted = { key: c.key, dir: sorted.key === c.key ? -sorted.dir : (c.numeric ? -1 : 1) };
        for (const other of head.children) other.setAttribute("aria-sort", "none");
        th.setAttribute("aria-sort", sorted.dir === 1 ? "ascending" : "descending");
        fill();
      });
      th.append(button);
      head.append(th);
    }
    t.append(el("thead", {}, head), body);
    fill();
    const download = el("button", { type: "button", className: "csv" }, ...bi("ดาวน์โหลด CSV", "Download CSV"));
    download.addEventListener("click", () => {
      const a = el("a", { download: `${name}.csv` });
      a.href = URL.createObjectURL(new Blob([csvText(columns, rows)], { type: "text/csv" }));
      document.body.append(a);
      a.click();
      a.remove();
    });
    wrap.append(t);
    return el("details", { className: "chart-table" },
      el("summary", {}, ...bi("ตารางข้อมูล", "Data table")), wrap, download);
  }

  // ---- charts ---------------------------------------------------------------------------------
  function describe(title, labels, values) {
    const parts = labels.map((l, i) => `${l}: ${num(values[i])}`);
    return `${title}. ${parts.slice(0, 20).join("; ")}${parts.length > 20 ? "; …" : ""}`;
  }

  function figure(parent, id, titleTh, titleEn, height) {
    const box = el("div", { className: "chart", role: "img" });
    box.style.height = `${height}px`;
    const fig = el("figure", { className: "chart-card", "data-chart": id },
      el("figcaption", {}, ...bi(titleTh, titleEn)), box);
    parent.append(fig);
    return { fig, box };
  }

  function mount(box, option, title, labels, values) {
    const description = describe(title, labels, values);
    box.setAttribute("aria-label", description);
    const chart = window.echarts.init(box, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      aria: { enabled: true, label: { description } },
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      ...option,
    });
    charts.push(chart);
    return chart;
  }

  function barOption(labels, values, color, horizontal) {
    const cat = { type: "category", data: labels, axisLabel: { interval: 0, width: 140, overflow: "truncate" } };
    const val = { type: "value", axisLabel: { formatter: num } };
    if (!horizontal && labels.length > 5) cat.axisLabel.rotate = 30;
    return {
      grid: { containLabel: true, left: 8, right: 40, top: 16, bottom: 8 },
      xAxis: horizontal ? val : cat,
      yAxis: horizontal ? { ...cat, inverse: true } : val,
      series: [{ type: "bar", data: values, itemStyle: { color },
        label: { show: true, position: horizontal ? "right" : "top", formatter: (p) => num(p.value) } }],
    };
  }

  function lineOption(labels, values, color) {
    return {
      grid: { containLabel: true, left: 8, right: 24, top: 16, bottom: 8 },
      xAxis: { type: "category", data: labels, boundaryGap: false },
      yAxis: { type: "value", axisLabel: { formatter: num } },
      series: [{ type: "line", data: values, symbolSize: 7, itemStyle: { color }, lineStyle: { width: 3 },
        label: { show: true, position: "top", formatter: (p) => num(p.value) } }],
    };
  }

  // How many were added each month: the data's own trend (from when each feature was stored).
  function drawAdded(grid, l) {
    const months = l.added_by_month;
    if (!months.length) return;
    const label = (m) => { const [y, mo] = m.split("-"); return `${mo}/${y}`; };
    const labels = months.map((m) => label(m.month));
    const values = months.map((m) => m.count);
    const title = `${l.title_th}: เพิ่มรายเดือน`;
    const { fig, box } = figure(grid, `${l.id}:added`, title, `${l.title_en}: added per month`, 220);
    if (months.length === 1) {
      box.replaceWith(el("p", { className: "single-value", "data-single": "added" },
        ...bi(`ทั้งหมด ${num(values[0])} เพิ่มเข้าระบบในเดือน ${labels[0]}`,
          `all ${num(values[0])} were added in ${labels[0]} (B.E.)`)));
    } else {
      mount(box, lineOption(labels, values, l.color), title, labels, values);
    }
    fig.append(table([
      { key: "label", th: "เดือน (พ.ศ.)", en: "Month (B.E.)" },
      { key: "count", th: "จำนวน", en: "Count", numeric: true },
    ], months.map((m, k) => ({ label: labels[k], count: m.count })), `${l.id}-added-${S.area.code || "TH"}`, title));
  }

  function pieOption(labels, values) {
    return {
      series: [{ type: "pie", radius: ["30%", "62%"], data: labels.map((name, i) => (
        typeof values[i] === "object" ? { name, ...values[i] } : { name, value: values[i] })),
        label: { formatter: (p) => `${p.name}\n${num(p.value)} (${num(p.percent)} %)` } }],
    };
  }

  function drawChildren() {
    const section = document.getElementById("children-section");
    if (!S.children.length) { section.hidden = true; return; }
    const box = document.getElementById("children-chart-box");
    const select = document.getElementById("children-layer");
    const childTh = LEVEL_TH[S.child_level] || "";
    function draw() {
      const layer = S.layers.find((l) => l.id === select.value);
      const rows = [...S.children].sort((a, b) => b.counts[layer.id] - a.counts[layer.id]
        || a.name_th.localeCompare(b.name_th, "th"));
      for (const old of box.querySelectorAll("[data-chart]")) {
        const c = window.echarts.getInstanceByDom(old.querySelector(".chart"));
        if (c) { charts.splice(charts.indexOf(c), 1); c.dispose(); }
      }
      box.replaceChildren();
      const labels = rows.map((r) => r.name_th);
      const values = rows.map((r) => r.counts[layer.id]);
      const { fig, box: cbox } = figure(box, "children", `${layer.title_th} ราย${childTh}`,
        `${layer.title_en} by ${S.child_level}`, Math.max(220, rows.length * 22 + 40));
      fig.dataset.layer = layer.id;
      const chart = mount(cbox, barOption(labels, values, layer.color, true),
        `${layer.title_th} ราย${childTh}`, labels, values);
      chart.on("click", (p) => { busy(); location.assign(childUrl(rows[p.dataIndex].code)); });
      const columns = [
        { key: "name_th", th: `ชื่อ${childTh}`, en: "Name", link: (r) => childUrl(r.code) },
        { key: "name_en", th: "ชื่ออังกฤษ", en: "English name" },
        ...S.layers.map((l) => ({ key: l.id, th: l.title_th, en: l.title_en, numeric: true })),
        { key: "area_km2", th: "พื้นที่ ตร.กม.", en: "km²", numeric: true },
      ];
      const trows = S.children.map((c) => ({ code: c.code, name_th: c.name_th, name_en: c.name_en,
        area_km2: c.area_km2, ...c.counts }));
      const t = table(columns, trows, `children-${S.area.code || "TH"}`, `${childTh} ใน${S.area.name_th}`);
      t.open = true; // the children's names are the way down: keep them in view
      fig.append(t);
    }
    select.addEventListener("change", draw);
    if (S.filter) select.value = S.filter.layer; // the filtered layer's children first
    draw();
  }

  // The chosen bar, said in words, with the way back to every feature.
  function filterNote() {
    if (!S.filter) return;
    const l = S.layers.find((x) => x.id === S.filter.layer);
    const c = l.categories.find((x) => x.field === S.filter.field);
    const v = c.values.find((x) => x.value === S.filter.value);
    const label = v ? [v.label_th, v.label_en] : [S.filter.value ?? "ไม่ระบุ", S.filter.value ?? "not stated"];
    const clear = el("a", { href: filterUrl(null), id: "clear-filter" }, ...bi("ล้างตัวกรอง", "Clear the filter"));
    const note = el("p", { className: "filter-note", id: "filter-note", role: "status" },
      ...bi(`กรองอยู่: ${l.title_th} — ${c.label_th} = ${label[0]}`, `filtered: ${l.title_en}, ${c.label_en} = ${label[1]}`),
      " ", clear);
    const section = document.getElementById("layers-h").parentElement;
    section.insertBefore(note, document.getElementById("layer-charts"));
    const top = note.cloneNode(true); // also above the cards, without repeating the ids
    top.id = "filter-note-top";
    top.removeAttribute("role");
    top.querySelector("a").id = "clear-filter-top";
    document.getElementById("cards").before(top);
  }

  function drawLayers() {
    const grid = document.getElementById("layer-charts");
    filterNote();
    for (const l of S.layers) {
      for (const c of l.categories) {
        if (!c.values.length) continue;
        const labels = c.values.map((v) => v.label_th);
        const chosen = "selected" in c ? c.values.findIndex((v) => v.value === c.selected) : -1;
        // the chosen bar stands out; the others stay, so another can be chosen
        const values = c.values.map((v, k) => (k === chosen
          ? { value: v.count, selected: true, itemStyle: { color: "#111827" } } : v.count));
        const title = `${l.title_th}: ${c.label_th}`;
        const { fig, box } = figure(grid, `${l.id}:${c.field}`, title, `${l.title_en}: ${c.label_en}`, 260);
        // Years are a trend, drawn as a line; a one-slice donut ("2564 = 100 %") says less than
        // a sentence, so a single value is written out (issue 23, item 4).
        const years = c.type === "year_be" && c.values.filter((v) => v.value != null).length > 1;
        const pie = !years && c.kind === "choice" && c.values.length <= 5 && c.values.length > 1;
        if (c.values.length === 1) {
          box.replaceWith(el("p", { className: "single-value", "data-single": c.field },
            ...bi(`ทั้งหมด ${num(c.values[0].count)} เป็น ${labels[0]} (100 %)`,
              `all ${num(c.values[0].count)} are ${c.values[0].label_en}`)));
        } else {
          const chart = mount(box, years ? lineOption(labels, values, l.color)
            : pie ? pieOption(labels, values) : barOption(labels, values, l.color, false),
          title, labels, c.values.map((v) => v.count));
          // a click on a bar or slice filters the layer's other charts, its card and the map
          chart.on("click", (p) => {
            const v = c.values[p.dataIndex];
            if (!v || v.value === "__other__") return;
            busy();
            location.assign(filterUrl(p.dataIndex === chosen ? null : { layer: l.id, field: c.field, value: v.value }));
          });
        }
        fig.append(table([
          { key: "label_th", th: c.label_th, en: c.label_en },
          { key: "label_en", th: "อังกฤษ", en: "English" },
          { key: "count", th: "จำนวน", en: "Count", numeric: true },
        ], c.values, `${l.id}-${c.field}-${S.area.code || "TH"}`, title));
      }
      drawAdded(grid, l);
      if (!l.count) {
        grid.append(el("p", { className: "muted empty", "data-empty": l.id },
          ...bi(`ไม่มี${l.title_th}ในพื้นที่นี้`, `no ${l.title_en} in this area`)));
      }
    }
  }

  function drawIndicators() {
    const grid = document.getElementById("indicator-charts");
    const parent = S.area.parents[S.area.parents.length - 1];
    for (const i of S.indicators) {
      const s = i.series.filter((x) => x.year != null);
      if (s.length < 2) continue;
      const years = s.map((x) => year(x.year));
      const lines = [{ name: S.area.name_th, data: s.map((x) => x.value), solid: true }];
      if (S.area.level !== "country" && S.area.level !== "province") {
        lines.push({ name: `ค่าเฉลี่ยใน${parent.name_th}`, data: s.map((x) => x.parent_mean) });
      }
      lines.push({ name: S.area.level === "country" ? "ค่าเฉลี่ยจังหวัด (mean of provinces)"
        : `ค่าเฉลี่ยทุก${LEVEL_TH[S.area.level]} (mean, whole country)`, data: s.map((x) => x.level_mean) });
      const title = `${i.title_th} (${i.unit})`;
      const { fig, box } = figure(grid, `indicator:${i.id}`, title, i.title_en, 260);
      mount(box, {
        grid: { containLabel: true, left: 8, right: 24, top: 16, bottom: 8 },
        xAxis: { type: "category", data: years, boundaryGap: false },
        yAxis: { type: "value", scale: true, axisLabel: { formatter: num } },
        series: lines.map((l, k) => ({ type: "line", name: l.name, data: l.data, symbolSize: 6,
          connectNulls: false, lineStyle: { width: l.solid ? 3 : 2, type: l.solid ? "solid" : (k === 1 ? "dashed" : "dotted") } })),
      }, title, years, s.map((x) => x.value));
      const legend = el("ul", { className: "legend" }, ...lines.map((l, k) =>
        el("li", { className: `line-${k}` }, l.name)));
      fig.insertBefore(legend, box);
      const rows = s.map((x, k) => Object.fromEntries([["year", years[k]],
        ...lines.map((l, j) => [`s${j}`, l.data[k]])]));
      fig.append(table([{ key: "year", th: "ปี พ.ศ.", en: "Year (B.E.)" },
        ...lines.map((l, j) => ({ key: `s${j}`, th: l.name, en: i.unit, numeric: true }))],
      rows, `${i.id}-${S.area.code || "TH"}`, title));
    }
  }

  // ---- a village: each layer's nearest points ---------------------------------------------------
  function drawNearby() {
    if (!S.nearby.length) return;
    document.getElementById("nearby-section").hidden = false;
    const grid = document.getElementById("nearby");
    for (const l of S.layers) {
      const rows = S.nearby.filter((n) => n.layer === l.id);
      if (!rows.length) continue;
      const fig = el("figure", { className: "chart-card", "data-nearby": l.id },
        el("figcaption", {}, ...bi(l.title_th, l.title_en)));
      const t = table([{ key: "name", th: "ชื่อ", en: "Name" },
        { key: "distance_km", th: "ระยะทาง กม.", en: "Distance, km", numeric: true }],
      rows, `nearby-${l.id}-${S.area.code}`, `${l.title_th} ที่ใกล้ที่สุด — nearest`);
      t.open = true;
      fig.append(t);
      grid.append(fig);
    }
  }

  // ---- the small map: the children shaded by the chosen measure, click to go down -----------
  const SHADES = ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"];
  function classes(values) {
    const sorted = values.filter((x) => x != null).sort((a, b) => a - b);
    if (!sorted.length) return [];
    const breaks = [1, 2, 3, 4].map((k) => sorted[Math.floor((k * (sorted.length - 1)) / 5)]);
    return [...new Set(breaks)].concat([sorted[sorted.length - 1]]);
  }
  async function drawMap() {
    const box = document.getElementById("child-map");
    if (!S.children.length || S.child_level === "village") { // villages have no outlines
      document.getElementById("map-block").hidden = true;
      return;
    }
    const q = { level: S.child_level };
    if (S.area.level !== "country") q[S.area.level] = S.area.code;
    const fc = await window.cddgisCommon.getJSON(`${window.CDDGIS.api}/choropleth/areas?${new URLSearchParams(q)}`);
    const map = window.cddgisCommon.handMap(box, { zoomSnap: 0.25, attributionControl: false, scrollWheelZoom: false });
    const byCode = new Map(S.children.map((c) => [c.code, c]));
    const select = document.getElementById("map-measure");
    if (S.filter) select.value = `${S.filter.layer}:count`; // the map shows the chosen features
    const legend = document.getElementById("map-legend");
    let layer = null;
    function value(child) {
      const [lid, measure] = select.value.split(":");
      const n = child.counts[lid];
      return measure === "per_km2" ? (child.area_km2 ? n / child.area_km2 : null) : n;
    }
    function shade() {
      const values = S.children.map(value);
      const breaks = classes(values);
      const colour = (v) => (v == null ? "#d1d5db" : SHADES[Math.max(0, breaks.findIndex((b) => v <= b))]);
      if (layer) layer.remove();
      layer = window.L.geoJSON(fc, {
        style: (f) => ({ color: "#374151", weight: 1, fillOpacity: 0.8,
          fillColor: colour(byCode.has(f.properties.code) ? value(byCode.get(f.properties.code)) : null) }),
        onEachFeature: (f, lyr) => {
          const c = byCode.get(f.properties.code);
          lyr.bindTooltip(window.cddgisCommon.tip(`${f.properties.name_th}: ${c ? num(value(c)) : "—"}`));
          lyr.on("click", () => { busy(); location.assign(childUrl(f.properties.code)); });
        },
      }).addTo(map);
      let low = breaks.length ? Math.min(...values.filter((x) => x != null)) : 0;
      legend.replaceChildren(...breaks.map((b, k) => {
        const sw = el("i", { className: "swatch" });
        sw.style.background = SHADES[k];
        const item = el("li", {}, sw, `${num(low)} – ${num(b)}`);
        low = b;
        return item;
      }));
    }
    shade();
    map.fitBounds(layer.getBounds(), { animate: false });
    select.addEventListener("change", shade);
  }

  // ---- area drop-downs: each choice opens that area's dashboard ------------------------------
  async function dropDowns() {
    const form = document.getElementById("dform");
    const selects = {
      region: document.getElementById("d-region"), province: document.getElementById("d-province"),
      district: document.getElementById("d-district"), subdistrict: document.getElementById("d-subdistrict"),
    };
    const areas = window.cddgisAreas.chain(window.CDDGIS.api, selects);
    const a = S.area;
    const code = (lvl) => (a.level === lvl ? a.code : (a.parents.find((p) => p.level === lvl) || {}).code || "");
    await areas.restore({ region: a.region || "", province: code("province"),
      district: code("district"), subdistrict: code("subdistrict") });
    // Villages: the subdistrict's, from the summary (the layers' หมู่ที่), on its page and its
    // villages' pages.
    const village = document.getElementById("d-village");
    if (S.villages && S.villages.length) {
      village.replaceChildren(new Option("ทั้งตำบล — Whole subdistrict", ""),
        ...S.villages.map((v) => new Option(`${v.name_th} — ${v.name_en}`, v.code)));
      village.disabled = false;
      village.value = a.level === "village" ? a.code : "";
    }
    form.addEventListener("change", (e) => {
      const name = e.target.name;
      busy();
      if (name === "village") {
        location.assign(areaUrl(village.value ? { village: village.value }
          : { subdistrict: selects.subdistrict.value }));
        return;
      }
      if (name === "region") {  // a region is a dashboard of its own (issue 23)
        const r = selects.region.value;
        location.assign(areaUrl(r ? { region: r } : {}));
        return;
      }
      const order = ["province", "district", "subdistrict"];
      const q = {};
      for (const lvl of order.slice(0, order.indexOf(name) + 1)) {
        if (selects[lvl].value) q[lvl] = selects[lvl].value;
      }
      const deepest = Object.keys(q).pop();
      location.assign(areaUrl(deepest ? { [deepest]: q[deepest] } : {}));
    });
    form.addEventListener("submit", (e) => e.preventDefault());
  }

  // ---- share, print ----------------------------------------------------------------------------
  function share() {
    const link = document.getElementById("permalink");
    document.getElementById("copy-link").addEventListener("click", async () => {
      link.select();
      try { await navigator.clipboard.writeText(link.value); } catch (e) { /* selected: Ctrl+C */ }
    });
    document.getElementById("print").addEventListener("click", () => window.print());
    const resize = () => charts.forEach((c) => c.resize());
    window.addEventListener("beforeprint", resize); // A4 is narrower than the screen
    window.addEventListener("afterprint", resize);
    window.addEventListener("resize", resize);
  }

  async function main() {
    const status = document.getElementById("status");
    try {
      drawCards();
      drawIndicators();
      drawChildren();
      drawLayers();
      drawNearby();
      share();
      await Promise.all([dropDowns(), drawMap()]);
      status.textContent = "";
      ready(view);
    } catch (err) {
      status.textContent = `เกิดข้อผิดพลาด — Something went wrong: ${err.message}`;
      failed(view);
      throw err;
    }
  }
  main();
  window.cddgisDashboard = { charts, num };
})();
