// One upload in the staff workspace: polls the job while the worker checks or commits the file,
// then shows the report — counts, file problems, the rows (errors first, filterable) and a map of
// the rows coloured by status. Everything from the file is written with textContent (a cell can
// hold markup). The page's readiness signal (body data-state) settles once the job has stopped
// running and its report is drawn, and again after each filter.
(function () {
  "use strict";
  const C = window.cddgisCommon;
  const root = document.getElementById("job");
  if (!root || !C) return;
  const $ = (id) => document.getElementById(id);
  const RUNNING = ["queued", "checking", "committing"];
  const COLORS = { error: "#b91c1c", warning: "#d97706", ok: "#15803d" };
  const STATUS = { error: "ผิดพลาด error", warning: "คำเตือน warning", ok: "ถูกต้อง ok" };
  const POLL_MS = 800;  // how often a running job is asked about (the server answers from the DB)
  const num = (n) => (n == null ? "0" : Number(n).toLocaleString("en-US"));
  let job = null;
  let filter = "";
  let map = null;

  function fillList(el, items) {
    el.replaceChildren(...(items || []).map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }));
  }

  function showJob(j) {
    job = j;
    const status = $("job-status");
    status.textContent = j.status_text;
    status.dataset.status = j.status;
    const running = RUNNING.includes(j.status);
    $("job-bar").hidden = !running;
    if (running && j.rows_estimate) {
      $("job-bar").max = j.rows_estimate;
      $("job-bar").value = Math.min(j.rows_done, j.rows_estimate);
    }
    $("job-progress-text").textContent = running
      ? `ตรวจแล้ว ${num(j.rows_done)}${j.rows_estimate ? " / ~" + num(j.rows_estimate) : ""} แถว · rows done`
      : "";
    $("job-message").hidden = !j.message;
    $("job-message").textContent = j.message || "";
    $("actions").hidden = j.status !== "checked";
    const counts = j.commit_counts || j.counts;
    $("summary").hidden = !counts && !(j.file_problems || []).length;
    if (counts) {
      for (const k of ["error", "warning", "ok", "total"]) $("count-" + k).textContent = num(counts[k]);
    }
    $("commit-all").disabled = Boolean((j.counts && j.counts.error) || (j.file_problems || []).length);
    $("commit-valid").disabled = !j.counts || !(j.counts.ok + j.counts.warning);
    $("would").textContent = j.counts && j.status === "checked"
      ? `จะเพิ่ม ${num(j.would_insert)} แก้ไข ${num(j.would_update)} รายการ · would insert ${num(j.would_insert)}, update ${num(j.would_update)}`
      : "";
    fillList($("file-problems"), (j.file_problems || []).concat(j.commit_problems || []));
    fillList($("file-notes"), j.file_notes);
    const result = $("commit-result");
    result.hidden = !["committed", "not_committed"].includes(j.status);
    if (j.status === "committed" && j.commit_counts) {
      result.textContent = `นำเข้าแล้ว: เพิ่ม ${num(j.commit_counts.inserted)} แก้ไข ${num(j.commit_counts.updated)} รายการ (การนำเข้า #${j.import_id}) · committed: ${num(j.commit_counts.inserted)} inserted, ${num(j.commit_counts.updated)} updated`;
      if (j.pending) {
        result.textContent += ` · รออนุมัติ ${num(j.pending)} รายการ ยังไม่เผยแพร่ · ${num(j.pending)} waiting for approval, not public yet`;
      }
    } else if (j.status === "not_committed") {
      result.textContent = "ไม่ได้นำเข้า ข้อมูลในระบบไม่เปลี่ยนแปลง · not committed: the layer is unchanged";
    }
    $("report").hidden = !j.counts;
    if (j.commit_counts) $("report-csv").href = $("report-csv").pathname + "?report=commit";
  }

  async function poll(v) {
    for (;;) {
      const j = await C.getJSON(root.dataset.statusUrl);
      if (!C.current(v)) return null;
      showJob(j);
      if (!RUNNING.includes(j.status)) return j;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  function reasonCell(row) {
    const td = document.createElement("td");
    const lines = [...(row.errors || []), ...(row.warnings || []), ...(row.changes || [])];
    if (lines.length === 1) td.textContent = lines[0];
    else if (lines.length) fillList(td.appendChild(document.createElement("ul")), lines);
    return td;
  }

  async function loadRows(v) {
    const params = new URLSearchParams();
    if (filter) params.set("status", filter);
    if (job.commit_counts) params.set("report", "commit");
    const data = await C.getJSON(`${root.dataset.rowsUrl}?${params}`);
    if (!C.current(v)) return;
    const body = $("report-table").tBodies[0];
    body.replaceChildren(...data.rows.map((row) => {
      const tr = document.createElement("tr");
      tr.className = "row-" + row.status;
      tr.dataset.status = row.status;
      for (const text of [row.row, row.key || "", STATUS[row.status]]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      tr.appendChild(reasonCell(row));
      return tr;
    }));
    $("rows-note").textContent = data.total > data.rows.length
      ? `แสดง ${num(data.rows.length)} จาก ${num(data.total)} แถว ดาวน์โหลด CSV เพื่อดูทั้งหมด · showing ${num(data.rows.length)} of ${num(data.total)}: download the CSV for all`
      : `${num(data.total)} แถว · rows`;
    for (const b of root.querySelectorAll("[data-filter]")) {
      b.setAttribute("aria-pressed", String(b.dataset.filter === filter));
    }
  }

  async function drawMap(v) {
    if (map || !window.L) return;
    const data = await C.getJSON(root.dataset.pointsUrl);
    if (!C.current(v)) return;
    const el = $("report-map");
    map = C.handMap(el, { preferCanvas: data.points.length > 5000 },
      { tiles: root.dataset.tiles, attribution: root.dataset.attribution || "" });
    const drawn = { error: 0, warning: 0, ok: 0 };
    const group = L.featureGroup();
    // Errors last, so they lie on top of the rows that are fine.
    const order = { ok: 0, warning: 1, error: 2 };
    data.points.sort((a, b) => order[a[2]] - order[b[2]]);
    for (const [lon, lat, status, row] of data.points) {
      drawn[status] += 1;
      L.circleMarker([lat, lon], {
        radius: 6, weight: 1, color: "#ffffff", fillColor: COLORS[status], fillOpacity: 0.9,
        className: "report-point status-" + status,
      }).bindTooltip(C.tip(`แถว row ${row}: ${STATUS[status]}`)).addTo(group);
    }
    group.addTo(map);
    const bounds = group.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 13, padding: [20, 20] });
    el.dataset.drawn = JSON.stringify(drawn);
    $("map-note").textContent = `${num(data.points.length)} จุดบนแผนที่ (แถวที่อ่านพิกัดได้) · points on the map (rows whose coordinates could be read)`;
  }

  async function load() {
    const v = C.busy();
    try {
      const j = await poll(v);
      if (!j) return;
      if (j.counts) {
        await loadRows(v);
        await drawMap(v);
      }
      C.ready(v);
    } catch (err) {
      $("status").textContent = String(err.message || err);
      C.failed(v);
    }
  }

  root.querySelector(".filters").addEventListener("click", async (e) => {
    const button = e.target.closest("[data-filter]");
    if (!button || !job) return;
    filter = button.dataset.filter;
    const v = C.busy();
    try {
      await loadRows(v);
      C.ready(v);
    } catch (err) {
      $("status").textContent = String(err.message || err);
      C.failed(v);
    }
  });
  load();
})();
