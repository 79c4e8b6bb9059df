// The staff workspace's maps (issue 11). One script, three modes set by the page:
//  - "list":    the layer's points in the account's scope (only those: the server filters),
//               loaded for the map's view, listed beside it, searchable; "add" mode turns a
//               click on the map into a new feature's page.
//  - "feature" / "new": the point as a draggable marker; a drag fills the form's lon/lat, which
//               the save sends (the server re-derives province/district/subdistrict).
//  - "review":  old (grey) and proposed (coloured) positions of the changes waiting.
// Names are written with textContent (stored text can hold markup); the page's readiness is
// <body data-state> via cddgisCommon.busy/ready/failed.
(function () {
  "use strict";
  const { tip, busy, ready, failed } = window.cddgisCommon;
  const cfg = window.CDDGIS;
  const map = window.cddgisCommon.pageMap();
  const staff = cfg.staff || {};
  const el = (id) => document.getElementById(id);
  const status = (text) => { const s = el("status"); if (s) s.textContent = text || ""; };
  const fmt = new Intl.NumberFormat("th-TH");

  // JSON of the workspace: a session that has ended is redirected to the sign-in page, which
  // is said as such (not as a JSON parse error).
  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    if (r.redirected && new URL(r.url).pathname.endsWith("/sign-in")) {
      throw new Error("หมดเวลาการลงชื่อเข้าใช้ กรุณาลงชื่อเข้าใช้อีกครั้ง / your session has ended: sign in again");
    }
    const body = await r.json();
    if (!r.ok) throw new Error(body.description || r.statusText);
    return body;
  }

  function pinIcon(color) {
    const div = document.createElement("div");
    div.className = "staff-pin";
    div.style.background = color;
    return L.divIcon({ html: div, className: "", iconSize: [18, 18], iconAnchor: [9, 9] });
  }

  // ---- list --------------------------------------------------------------------------------
  function listMode() {
    const drawn = L.layerGroup().addTo(map);
    const list = el("feature-list");
    const search = el("q");
    const addButton = el("add-mode");
    let adding = false;

    if (staff.extent) map.fitBounds(staff.extent, { maxZoom: 12 });

    function featureUrl(id) { return staff.feature.replace(/\/0$/, "/" + id); }

    async function load() {
      const v = busy();
      const b = map.getBounds();
      const p = new URLSearchParams({ bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map((n) => n.toFixed(6)).join(",") });
      if (search.value.trim()) p.set("q", search.value.trim());
      try {
        const data = await getJSON(staff.points + "?" + p);
        if (!ready(v)) return;
        drawn.clearLayers();
        list.replaceChildren();
        for (const f of data.features) {
          const marker = L.circleMarker([f.lat, f.lon], {
            radius: 7, color: "#ffffff", weight: 1.5, fillColor: f.pending ? "#9ca3af" : staff.color,
            fillOpacity: 0.9 }).addTo(drawn);
          marker.bindTooltip(tip(f.name || f.key));
          marker.on("click", () => { if (!adding) window.location.href = featureUrl(f.id); });
          const li = document.createElement("li");
          const a = document.createElement("a");
          a.href = featureUrl(f.id);
          a.textContent = f.name || f.key;
          a.dataset.feature = f.id;
          const small = document.createElement("small");
          small.className = "muted";
          small.textContent = ` ${f.key} · ${f.place}` + (f.pending ? " · รออนุมัติ / pending" : "");
          li.append(a, small);
          list.append(li);
        }
        el("count").textContent = `${fmt.format(data.features.length)}${data.more ? "+" : ""} จุดในมุมมองนี้ / in view`
          + (data.more ? " — ซูมเข้าเพื่อดูทั้งหมด / zoom in to see all" : "");
        status("");
      } catch (err) {
        if (failed(v)) status(err.message);
      }
    }

    function setAdding(on) {
      adding = on;
      addButton.setAttribute("aria-pressed", String(on));
      el("add-hint").hidden = !on;
      map.getContainer().classList.toggle("adding", on);
    }
    addButton.addEventListener("click", () => setAdding(!adding));
    map.on("click", (e) => {
      if (!adding) return;
      const p = new URLSearchParams({ lon: e.latlng.lng.toFixed(6), lat: e.latlng.lat.toFixed(6) });
      window.location.href = staff.new + "?" + p;
    });
    el("search").addEventListener("submit", (e) => { e.preventDefault(); load(); });
    search.addEventListener("input", () => load());
    map.on("moveend", load);
    load();
  }

  // ---- one feature (existing or new) -------------------------------------------------------
  function featureMode() {
    const lonInput = el("lon");
    const latInput = el("lat");
    const movedNote = el("moved");
    let marker = null;

    function showMoved(latlng) {
      lonInput.value = latlng.lng.toFixed(6);
      latInput.value = latlng.lat.toFixed(6);
      if (movedNote) {
        movedNote.hidden = false;
        movedNote.textContent = `ตำแหน่งใหม่ ${latlng.lat.toFixed(5)}, ${latlng.lng.toFixed(5)} — กดบันทึกเพื่อยืนยัน`
          + " / new position: save to keep it";
      }
    }
    function place(latlng) {
      if (marker) { marker.setLatLng(latlng); return; }
      marker = L.marker(latlng, { draggable: Boolean(staff.editable), icon: pinIcon(staff.color),
                                  keyboard: true, title: "ลากเพื่อย้าย / drag to move" }).addTo(map);
      marker.on("dragend", () => showMoved(marker.getLatLng()));
    }

    const lon = parseFloat(staff.lon);
    const lat = parseFloat(staff.lat);
    if (Number.isFinite(lon) && Number.isFinite(lat)) {
      place([lat, lon]);
      map.setView([lat, lon], 14);
      if (staff.moved || staff.mode === "new") showMoved(L.latLng(lat, lon));
    }
    if (staff.mode === "new") {
      map.on("click", (e) => { place(e.latlng); showMoved(e.latlng); });
    }
    // A move waiting for approval: its proposed place beside the live one, joined by a line.
    if (staff.proposed && marker) {
      const to = L.latLng(staff.proposed[1], staff.proposed[0]);
      const proposed = L.circleMarker(to, { radius: 8, color: "#ffffff", weight: 2, fillColor: staff.color,
                                            fillOpacity: 0.6, dashArray: "3 3", className: "proposed-place" })
        .addTo(map);
      proposed.bindTooltip("ตำแหน่งที่เสนอ รออนุมัติ / proposed place, waiting for approval", { permanent: false });
      L.polyline([marker.getLatLng(), to], { color: staff.color, dashArray: "4 4", weight: 2 }).addTo(map);
      map.fitBounds(L.latLngBounds([marker.getLatLng(), to]), { maxZoom: 16, padding: [40, 40] });
      if (movedNote) {
        movedNote.hidden = false;
        movedNote.textContent = `ตำแหน่งที่เสนอ ${to.lat.toFixed(5)}, ${to.lng.toFixed(5)} รออนุมัติ`
          + " / proposed position, waiting for approval";
      }
    }
    const v = busy();
    // The marker is on the map (or, for a new point, the map waits for a click): ready.
    map.whenReady(() => ready(v));
  }

  // ---- review --------------------------------------------------------------------------------
  function reviewMode() {
    const v = busy();
    const bounds = L.latLngBounds([]);
    const shapes = new Map();
    for (const c of staff.changes || []) {
      const group = L.featureGroup().addTo(map);
      const at = (p) => [p[1], p[0]];
      if (c.before) {
        L.circleMarker(at(c.before), { radius: 7, color: staff.old_place.stroke, fillColor: staff.old_place.fill,
                                       fillOpacity: 0.8, weight: 1.5, className: "review-old" }).addTo(group);
      }
      if (c.after) {
        L.circleMarker(at(c.after), { radius: 8, color: "#ffffff", fillColor: c.color,
                                      fillOpacity: 0.95, weight: 2, className: "review-new" }).addTo(group);
      }
      if (c.before && c.after && (c.before[0] !== c.after[0] || c.before[1] !== c.after[1])) {
        L.polyline([at(c.before), at(c.after)], { color: c.color, dashArray: "4 4", weight: 2 })
          .addTo(group);
      }
      if (group.getLayers().length) {
        bounds.extend(group.getBounds());
        shapes.set(String(c.id), group);
      }
    }
    if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 14, padding: [30, 30] });
    for (const button of document.querySelectorAll(".show-on-map")) {
      button.addEventListener("click", () => {
        const group = shapes.get(button.dataset.change);
        if (group) map.fitBounds(group.getBounds(), { maxZoom: 16, padding: [40, 40] });
      });
    }
    map.whenReady(() => ready(v));
  }

  try {
    if (staff.mode === "list") listMode();
    else if (staff.mode === "feature" || staff.mode === "new") featureMode();
    else if (staff.mode === "review") reviewMode();
  } catch (err) {
    failed(busy());
    status(err.message);
  }
})();
