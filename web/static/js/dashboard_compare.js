// Areas side by side (issue 23, item 3): one grouped bar chart per measure (the layers' counts,
// the same per 10,000 people, each indicator), from the numbers the page's table shows (the JSON
// in #compare-config). Names are set as text: they can hold anything.
(function () {
  "use strict";
  const { busy, ready, failed, formatNumber } = window.cddgisCommon;
  const view = busy();
  const body = JSON.parse(document.getElementById("compare-config").textContent);
  const names = body.areas.map((a) => a.name_th);
  const grid = document.getElementById("compare-charts");
  const charts = [];

  function figure(id, titleTh, titleEn) {
    const box = document.createElement("div");
    box.className = "chart";
    box.setAttribute("role", "img");
    box.style.height = "260px";
    const fig = document.createElement("figure");
    fig.className = "chart-card";
    fig.dataset.chart = id;
    const cap = document.createElement("figcaption");
    const en = document.createElement("span");
    en.className = "en";
    en.textContent = titleEn;
    cap.append(`${titleTh} `, en);
    fig.append(cap, box);
    grid.append(fig);
    return box;
  }

  // One bar per area; an area with no such number has no bar (and says so in the table).
  function bars(id, titleTh, titleEn, values, color) {
    if (values.every((v) => v == null)) return;
    const box = figure(id, titleTh, titleEn);
    const description = `${titleTh}. ` + names.map((n, i) => `${n}: ${values[i] == null ? "—" : formatNumber(values[i])}`).join("; ");
    box.setAttribute("aria-label", description);
    const chart = window.echarts.init(box, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      aria: { enabled: true, label: { description } },
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      grid: { containLabel: true, left: 8, right: 24, top: 24, bottom: 8 },
      xAxis: { type: "category", data: names, axisLabel: { interval: 0, width: 120, overflow: "truncate" } },
      yAxis: { type: "value", axisLabel: { formatter: (v) => formatNumber(v) } },
      series: [{ type: "bar", data: values, itemStyle: { color },
        label: { show: true, position: "top", formatter: (p) => formatNumber(p.value) } }],
    });
    charts.push(chart);
  }

  try {
    for (const l of body.layers) {
      bars(`${l.id}:count`, l.title_th, `${l.title_en}: count`, l.cells.map((c) => c.count), l.color);
      if (l.cells.some((c) => c.per_people != null)) {
        bars(`${l.id}:per_people`, `${l.title_th} ต่อประชากร 10,000 คน`, `${l.title_en} per 10,000 people`,
          l.cells.map((c) => c.per_people), l.color);
      }
    }
    for (const i of body.indicators) {
      bars(`indicator:${i.id}`, `${i.title_th} (${i.unit})`, i.title_en,
        i.cells.map((c) => (c ? c.value : null)), "#475569");
    }
    window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
    ready(view);
  } catch (err) {
    document.getElementById("status").textContent = `เกิดข้อผิดพลาด — Something went wrong: ${err.message}`;
    failed(view);
    throw err;
  }
  window.cddgisCompare = { charts };
})();
