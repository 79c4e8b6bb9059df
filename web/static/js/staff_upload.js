// One upload in the staff workspace: polls the job while the worker checks or commits the file,
// then shows the report — counts, file problems, the rows (errors first, filterable) and a map of
// the rows coloured by status. Everything from the file is written with textContent (a cell can
// hold markup). The page's readiness signal (body data-state) settles once the job has stopped
// running and its report is drawn, and again after each filter. A broken row can be fixed in
// place: its cells open as a form under it, and the server checks the row again.
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
  const markers = new Map();  // row number -> its dot on the map, recoloured when the row is fixed

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

  // A row's cells: number, key, status, reasons and, while the upload is checked, a button
  // that opens the row's cells as a form in place (issue 24, item 8).
  function fillRow(tr, row) {
    tr.className = "row-" + row.status;
    tr.dataset.status = row.status;
    const cells = [row.row, row.key || "", STATUS[row.status] + (row.fixed ? " · แก้แล้ว fixed" : "")]
      .map((text) => {
        const td = document.createElement("td");
        td.textContent = text;
        return td;
      });
    const action = document.createElement("td");
    if (root.dataset.mayFix && job && job.status === "checked"
        && (row.status === "error" || row.fixed)) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "fix-row secondary";
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-controls", "fix-" + row.row);
      button.append("แก้ไข ");
      const en = document.createElement("span");
      en.className = "en";
      en.textContent = "Fix";
      button.append(en);
      const label = document.createElement("span");
      label.className = "visually-hidden";
      label.textContent = ` แถว row ${row.row}`;
      button.append(label);
      action.appendChild(button);
    }
    tr.replaceChildren(...cells, reasonCell(row), action);
  }

  function closeForm(tr) {
    const open = document.getElementById("fix-" + tr.dataset.row);
    if (open) open.remove();
    const button = tr.querySelector(".fix-row");
    if (button) button.setAttribute("aria-expanded", "false");
  }

  // The row's cells as a plain form (it posts without the script too); the script sends it,
  // puts the row's new verdict in place and keeps the form open while the row is still broken.
  async function openForm(tr) {
    const n = tr.dataset.row;
    if (document.getElementById("fix-" + n)) {
      closeForm(tr);
      return;
    }
    const v = C.busy();
    try {
      const url = `${root.dataset.rowsUrl}/${n}`;
      const data = await C.getJSON(url);
      if (!C.current(v)) return;
      const holder = document.createElement("tr");
      holder.id = "fix-" + n;
      holder.className = "fix-form-row";
      const td = document.createElement("td");
      td.colSpan = 5;
      const form = document.createElement("form");
      form.method = "post";
      form.action = url;
      form.className = "fix-form";
      const legend = document.createElement("p");
      legend.className = "fix-title";
      legend.textContent = `แก้แถวที่ ${n} แล้วตรวจอีกครั้ง (ไฟล์ที่อัปโหลดไม่เปลี่ยน) · fix row ${n} and check it again (the uploaded file is not changed)`;
      form.appendChild(legend);
      const token = document.createElement("input");
      token.type = "hidden";
      token.name = "csrf_token";
      token.value = root.querySelector("input[name=csrf_token]").value;
      form.appendChild(token);
      const grid = document.createElement("div");
      grid.className = "fix-cells";
      data.cells.forEach((cell, i) => {
        const id = `fix-${n}-${i}`;
        const label = document.createElement("label");
        label.htmlFor = id;
        label.textContent = cell.header;
        const input = document.createElement("input");
        input.id = id;
        input.name = "cell:" + cell.header;
        input.value = cell.value;
        input.autocomplete = "off";
        const box = document.createElement("div");
        box.append(label, input);
        grid.appendChild(box);
      });
      form.appendChild(grid);
      const message = document.createElement("p");
      message.className = "error";
      message.setAttribute("role", "alert");
      message.hidden = true;
      const submit = document.createElement("button");
      submit.type = "submit";
      submit.append("ตรวจอีกครั้ง ");
      const en = document.createElement("span");
      en.className = "en";
      en.textContent = "Check again";
      submit.append(en);
      const close = document.createElement("button");
      close.type = "button";
      close.className = "secondary";
      close.textContent = "ปิด · Close";
      close.addEventListener("click", () => {
        closeForm(tr);
        tr.querySelector(".fix-row")?.focus();
      });
      form.append(message, submit, close);
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        sendFix(tr, form, message);
      });
      td.appendChild(form);
      holder.appendChild(td);
      tr.after(holder);
      tr.querySelector(".fix-row").setAttribute("aria-expanded", "true");
      const first = grid.querySelector("input");
      if (first) first.focus();
      C.ready(v);
    } catch (err) {
      $("status").textContent = String(err.message || err);
      C.failed(v);
    }
  }

  // A fixed row's dot takes its new status's colour (and moves, if its coordinates changed).
  function recolour(row) {
    const marker = markers.get(row.row);
    if (!marker || !row.point) return;
    marker.setLatLng([row.point[1], row.point[0]]);
    marker.setStyle({ fillColor: COLORS[row.status] });
    const path = marker.getElement();
    if (path) {
      path.classList.remove("status-error", "status-warning", "status-ok");
      path.classList.add("status-" + row.status);
    }
    marker.setTooltipContent(C.tip(`แถว row ${row.row}: ${STATUS[row.status]}`));
  }

  async function sendFix(tr, form, message) {
    const v = C.busy();
    try {
      const r = await fetch(form.action, {
        method: "POST", body: new FormData(form), headers: { Accept: "application/json" },
      });
      const json = (r.headers.get("Content-Type") || "").includes("application/json");
      const body = json ? await r.json() : {};
      if (!C.current(v)) return;
      if (!r.ok) {
        message.textContent = body.description || `${r.status} ${r.statusText}`;
        message.hidden = false;
        C.ready(v);
        return;
      }
      message.hidden = true;
      fillRow(tr, body.row);
      recolour(body.row);
      for (const k of ["error", "warning", "ok", "total"]) $("count-" + k).textContent = num(body.counts[k]);
      job.counts = body.counts;
      $("commit-all").disabled = Boolean(body.counts.error || (job.file_problems || []).length);
      $("commit-valid").disabled = !(body.counts.ok + body.counts.warning);
      const verdict = `แถวที่ ${body.row.row}: ${STATUS[body.row.status]} · row ${body.row.row}: ${body.row.status}`;
      $("status").textContent = verdict;
      if (body.row.status === "error") {
        message.textContent = verdict;
        message.hidden = false;
      } else {
        closeForm(tr);
        tr.querySelector(".fix-row")?.focus();
      }
      C.ready(v);
    } catch (err) {
      $("status").textContent = String(err.message || err);
      C.failed(v);
    }
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
      tr.dataset.row = row.row;
      tr.id = "row-" + row.row;
      fillRow(tr, row);
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
      markers.set(row, L.circleMarker([lat, lon], {
        radius: 6, weight: 1, color: "#ffffff", fillColor: COLORS[status], fillOpacity: 0.9,
        className: "report-point status-" + status,
      }).bindTooltip(C.tip(`แถว row ${row}: ${STATUS[status]}`)).addTo(group));
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

  $("report-table").addEventListener("click", (e) => {
    const button = e.target.closest(".fix-row");
    if (button) openForm(button.closest("tr"));
  });

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
