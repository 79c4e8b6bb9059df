// Learning-center locator: from a point (map click, typed coordinates, the browser's location or
// a place name), list the nearest N centers with their ground distance, and show them. The URL
// keeps the point, the layer and every filter (how many, province, "only …"), so a link or the
// copy-link button gives a colleague the same list.
(function () {
  "use strict";
  const { getJSON, tip, busy, current, ready, failed, formatNumber, copyLinkButton } = window.cddgisCommon;
  const cfg = window.CDDGIS;
  const map = window.cddgisCommon.pageMap();
  const api = cfg.api.replace(/\/$/, "");
  const el = (id) => document.getElementById(id);
  const byId = Object.fromEntries(cfg.layers.map((l) => [l.id, l]));
  const drawn = L.layerGroup().addTo(map);
  const COORDS = /^\s*(-?\d+(?:\.\d+)?)\s*[, ]\s*(-?\d+(?:\.\d+)?)\s*$/;
  let origin = null;  // {lon, lat, label}

  const layer = () => byId[document.querySelector("input[name=layer]:checked").value];
  // The "only …" check boxes of one layer (its declared yes/no filters; see web/tour.py).
  const onlyBoxes = (id) => [...document.querySelectorAll(".only-filter")]
    .filter((label) => label.dataset.layer === id).map((label) => label.querySelector("input"));
  function showOnlyFilters() {
    for (const label of document.querySelectorAll(".only-filter")) {
      label.hidden = label.dataset.layer !== layer().id;
    }
  }

  function query() {
    const p = new URLSearchParams({ near: `${origin.lon},${origin.lat}`, limit: el("count-n").value });
    if (el("l-province").value) p.set("province", el("l-province").value);
    for (const box of onlyBoxes(layer().id)) if (box.checked) p.set(box.name, "true");
    return p;
  }

  // The page's state in its address: point, layer and filters (n, province, ready=true, …).
  function writeUrl() {
    const p = new URLSearchParams();
    if (origin) p.set("at", `${origin.lat.toFixed(5)},${origin.lon.toFixed(5)}`);
    p.set("layer", layer().id);
    if (el("count-n").value !== el("count-n").options[0].value) p.set("n", el("count-n").value);
    if (el("l-province").value) p.set("province", el("l-province").value);
    for (const box of onlyBoxes(layer().id)) if (box.checked) p.set(box.name, "true");
    history.replaceState(null, "", `${location.pathname}?${p}`);
  }

  function readUrl(q) {
    if (q.get("layer") && byId[q.get("layer")]) {
      document.querySelector(`input[name=layer][value="${CSS.escape(q.get("layer"))}"]`).checked = true;
    }
    const n = el("count-n");
    if ([...n.options].some((o) => o.value === q.get("n"))) n.value = q.get("n");
    const province = el("l-province");
    if ([...province.options].some((o) => o.value && o.value === q.get("province"))) province.value = q.get("province");
    for (const box of onlyBoxes(layer().id)) box.checked = q.get(box.name) === "true";
  }

  function setOrigin(lon, lat, label) {
    origin = { lon, lat, label };
    update();
  }

  function resultItem(l, f, rank) {
    const p = f.properties;
    const [lng, lat] = f.geometry.coordinates;
    const li = document.createElement("li");
    li.dataset.id = f.id;
    li.dataset.km = p.distance_km;
    const name = document.createElement("strong");
    name.textContent = p[l.name_field] || f.id;
    const dist = document.createElement("span");
    dist.className = "distance";
    dist.textContent = ` ${formatNumber(p.distance_km)} กม. (km)`;
    const where = document.createElement("div");
    where.className = "muted";
    where.textContent = p.place || [p.subdistrict_th, p.district_th, p.province_th].filter(Boolean).join(" ");
    const details = document.createElement("div");
    const phone = p.phone || p.chair_phone;
    details.textContent = [phone ? `โทร ${phone}` : "", p.chair_name ? `ประธาน ${p.chair_name}` : "",
                           p.ready === true ? "พร้อมเป็นแหล่งเรียนรู้" : p.ready === false ? "ยังไม่พร้อม" : ""]
      .filter(Boolean).join(" · ");
    const go = document.createElement("a");
    go.href = `https://www.google.com/maps/dir/?api=1&origin=${origin.lat},${origin.lon}&destination=${lat},${lng}`;
    go.target = "_blank";
    go.rel = "noopener noreferrer";
    go.className = "no-print";
    go.textContent = "เส้นทาง / Directions";
    li.append(name, dist, where, details, go);
    li.addEventListener("mouseenter", () => map.panTo([lat, lng]));
    L.marker([lat, lng], {
      icon: L.divIcon({ html: `<div class="rank-icon">${rank}</div>`, className: "cddgis-rank",
                        iconSize: [22, 22] }),
    }).bindTooltip(tip(name.textContent)).addTo(drawn);
    return li;
  }

  async function update() {
    const mine = busy();
    showOnlyFilters();
    writeUrl();
    if (!origin) { ready(mine); return; }
    const l = layer();
    try {
      const fc = await getJSON(`${api}/collections/${l.id}/items?${query()}`);
      if (!current(mine)) return;
      drawn.clearLayers();
      L.circleMarker([origin.lat, origin.lon], { radius: 8, color: "#b91c1c", weight: 3, fill: false,
                                                 className: "cddgis-origin" }).addTo(drawn);
      el("origin").textContent = `จาก / from: ${origin.label} (${origin.lat.toFixed(5)}, ${origin.lon.toFixed(5)})`;
      el("results").replaceChildren(...fc.features.map((f, i) => resultItem(l, f, i + 1)));
      const csv = query();
      csv.set("f", "csv");
      el("csv").href = `${api}/collections/${l.id}/items?${csv}`;
      el("csv").hidden = el("print").hidden = fc.features.length === 0;
      map.invalidateSize();
      const bounds = L.featureGroup(drawn.getLayers()).getBounds();
      if (bounds.isValid()) map.fitBounds(bounds.pad(0.15), { animate: false, maxZoom: 14 });
      el("status").textContent = fc.features.length ? "" : "ไม่พบศูนย์ตามเงื่อนไข — nothing found";
      ready(mine);
    } catch (err) {
      if (!failed(mine)) return;
      el("status").textContent = `ค้นหาไม่สำเร็จ — ${err.message}`;
    }
  }

  // Coordinates go straight to the search (busy at once, in update); a name only lists the
  // matching places to pick from, which leaves the shown results, and the page's state, as they are.
  async function findPlace(text) {
    const m = COORDS.exec(text);
    if (m) {
      let [a, b] = [Number(m[1]), Number(m[2])];
      if (Math.abs(a) > 90) [a, b] = [b, a];  // typed as lon, lat
      setOrigin(b, a, "พิกัด / coordinates");
      el("place-results").replaceChildren();
      return;
    }
    if (text.trim().length < 2) return;
    // The province filter narrows the places too: a common village name has namesakes everywhere.
    const within = el("l-province").value;
    const ask = new URLSearchParams({ q: text, limit: 8 });
    if (within) ask.set("within", within);
    const found = await getJSON(`${api}/places?${ask}`);
    if (!found.places.length) {
      const li = document.createElement("li");
      li.className = "place-none";
      const where = within ? el("l-province").selectedOptions[0].textContent.trim() : "";
      li.textContent = within
        ? `ไม่พบสถานที่ "${text.trim()}" ใน${where} / no place named "${text.trim()}" in this province`
        : `ไม่พบสถานที่ "${text.trim()}" / no place found`;
      el("place-results").replaceChildren(li);
      return;
    }
    el("place-results").replaceChildren(...found.places.map((p) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = `${p.name_th}${p.name_en ? " / " + p.name_en : ""} — ${p.context_th || p.kind}`;
      b.addEventListener("click", () => {
        el("place-results").replaceChildren();
        el("from").value = p.name_th;
        setOrigin(p.lon, p.lat, `${p.name_th} ${p.context_th}`);
      });
      li.appendChild(b);
      return li;
    }));
  }

  let timer = null;
  const placeFailed = (err) => { el("status").textContent = err.message; };
  el("from").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => findPlace(el("from").value).catch(placeFailed), 300);
  });
  el("locator").addEventListener("submit", (e) => {
    e.preventDefault();
    findPlace(el("from").value).catch(placeFailed);
  });
  el("locator").addEventListener("change", (e) => { if (e.target.id !== "from") update(); });
  el("my-location").addEventListener("click", () => {
    const mine = busy();
    navigator.geolocation.getCurrentPosition(
      (pos) => setOrigin(pos.coords.longitude, pos.coords.latitude, "ตำแหน่งของฉัน / my location"),
      (err) => { failed(mine); el("status").textContent = `ระบุตำแหน่งไม่ได้ — ${err.message}`; },
      { timeout: 10000 });
  });
  el("print").addEventListener("click", () => window.print());

  // The district list follows the province; the batch form carries the chosen layer and its
  // "only …" boxes, so the list answers the same question as the panel, for every village.
  const batchAreas = window.cddgisAreas.chain(api, { district: el("batch-district") });
  const batchDistricts = () => batchAreas.districts(el("l-province").value, "")
    .catch((err) => { el("status").textContent = err.message; });
  el("l-province").addEventListener("change", batchDistricts);
  el("batch").addEventListener("submit", () => {
    el("batch-layer").value = layer().id;
    for (const old of el("batch").querySelectorAll("input.only-copy")) old.remove();
    for (const box of onlyBoxes(layer().id)) {
      if (!box.checked) continue;
      const copy = document.createElement("input");
      Object.assign(copy, { type: "hidden", name: box.name, value: "true", className: "only-copy" });
      el("batch").appendChild(copy);
    }
  });
  map.on("click", (e) => setOrigin(e.latlng.lng, e.latlng.lat, "จุดที่คลิก / clicked point"));

  copyLinkButton(el("copy-link"));
  const q = new URLSearchParams(location.search);
  readUrl(q);
  showOnlyFilters();
  if (el("l-province").value) batchDistricts();
  const at = COORDS.exec(q.get("at") || "");
  if (at) setOrigin(Number(at[2]), Number(at[1]), "ลิงก์ / link");
  else update();
})();
