// Boundaries explorer: drill down region → province → district → subdistrict.
// The Folium map is drawn by the server; this script fetches the areas from /api and keeps the
// view in the URL so a link opens the same view.
(function () {
  "use strict";
  const { esc, busy, current, ready, failed } = window.cddgisCommon;
  const areas = window.cddgisAreas;
  const cfg = window.CDDGIS;
  const map = window.cddgisCommon.pageMap();
  const api = cfg.api.replace(/\/$/, "");
  const els = {
    form: document.getElementById("area-form"),
    region: document.getElementById("region"),
    province: document.getElementById("province"),
    district: document.getElementById("district"),
    subdistrict: document.getElementById("subdistrict"),
    info: document.getElementById("info"),
    status: document.getElementById("status"),
  };
  const LEVELS = ["region", "province", "district", "subdistrict"];
  const chain = areas.chain(api, els);
  const CHILD_NAMES = {
    national: ["จังหวัด", "provinces"],
    region: ["จังหวัด", "provinces"],
    province: ["อำเภอ/เขต", "districts"],
    district: ["ตำบล/แขวง", "subdistricts"],
  };
  const regions = Object.fromEntries(cfg.regions.map((r) => [r.code, r]));
  const fmt = new Intl.NumberFormat("th-TH", { maximumFractionDigits: 2 });
  const cache = new Map();
  let drawn = L.featureGroup().addTo(map);

  async function getJSON(path, params) {
    const qs = new URLSearchParams(params || {}).toString();
    const url = `${api}${path}${qs ? "?" + qs : ""}`;
    if (!cache.has(url)) {
      cache.set(url, window.cddgisCommon.getJSON(url));
    }
    try {
      return await cache.get(url);
    } catch (err) {
      cache.delete(url);
      throw err;
    }
  }

  const items = (collection, params) =>
    getJSON(`/collections/${collection}/items`, { limit: 10000, ...params });
  const item = (collection, code) => getJSON(`/collections/${collection}/items/${code}`, { lod: 1 });

  const readState = () => areas.fromQuery(new URLSearchParams(location.search));

  function writeState(s, push) {
    const q = new URLSearchParams();
    for (const k of LEVELS) if (s[k]) q.set(k, s[k]);
    const url = `${location.pathname}${q.toString() ? "?" + q : ""}`;
    if (url === `${location.pathname}${location.search}`) return;
    history[push ? "pushState" : "replaceState"](s, "", url);
  }

  // The children's outlines can be drawn from vector tiles (`draw=tiles` in the address), but
  // are drawn from the GeoJSON by default: the drop-downs, the count and the fit need those
  // same features anyway, so tiles only added requests (docs/benchmarks.md, "The boundaries
  // explorer from tiles?"). The option stays for measuring.
  const fromTiles = new URLSearchParams(location.search).get("draw") === "tiles" &&
    Boolean(window.cddgisAreaTiles);
  let tiles = null;
  const PARENT = { province: "region", district: "province", subdistrict: "district" };

  function drawTiles(childLevel, state) {
    if (tiles) { tiles.remove(); tiles = null; }
    if (!childLevel) return;
    const params = new URLSearchParams();
    const parent = PARENT[childLevel];
    if (state[parent]) params.set(parent, state[parent]);
    tiles = window.cddgisAreaTiles(map, {
      api, collection: `${childLevel}s`, params, className: "cddgis-child-tiles",
      fill: () => ({ color: "#60a5fa", opacity: 0.12 }),
      line: { color: "#1d4ed8", width: 1 },
      tooltip: (p) => `${esc(p.name_th)}<br><span class="en">${esc(p.name_en)}</span>`,
      click: (p) => choose(childLevel, p.code),
    });
  }

  function draw(selected, children, childLevel, state) {
    map.removeLayer(drawn);
    drawn = L.featureGroup();
    if (fromTiles) {
      drawTiles(childLevel, state);
      // Fitted to the children as before; their outlines come from the tiles.
      if (children) L.geoJSON(children, { style: { opacity: 0, fillOpacity: 0 }, interactive: false }).addTo(drawn);
    } else if (children) {
      L.geoJSON(children, {
        style: { className: "cddgis-child", color: "#1d4ed8", weight: 1, fillColor: "#60a5fa",
                 fillOpacity: 0.12 },
        onEachFeature: (f, layer) => {
          layer.bindTooltip(`${esc(f.properties.name_th)}<br><span class="en">${esc(f.properties.name_en)}</span>`,
                            { sticky: true });
          layer.on("click", () => choose(childLevel, f.properties.code));
          layer.on("mouseover", () => layer.setStyle({ fillOpacity: 0.35 }));
          layer.on("mouseout", () => layer.setStyle({ fillOpacity: 0.12 }));
        },
      }).addTo(drawn);
    }
    if (selected) {
      L.geoJSON(selected, {
        style: { className: "cddgis-selected", color: "#b91c1c", weight: 3, fill: !children,
                 fillOpacity: 0.08 },
        interactive: false,
      }).addTo(drawn);
    }
    drawn.addTo(map);
    fitTo(drawn.getBounds());
  }

  // Fitting the map to the area. On a phone the map sits under the panel, and the page can
  // still reflow after the fit (the panel filling, the Thai font arriving): Leaflet keeps the
  // size it measured, so the area ended up off-centre or cut (issue 15: 5 of 12 deep links).
  // The size is measured afresh before each fit, and the map is fitted again whenever its box
  // changes size, until the user moves the map.
  let fitted = null;  // the bounds the view was last fitted to, while the user has not moved it
  let fitting = false;
  function fitTo(bounds) {
    if (!bounds || !bounds.isValid()) { fitted = null; return; }
    fitted = bounds;
    fitting = true;
    try {
      map.invalidateSize({ pan: false });
      // No animation: the view is settled when the page says it is ready.
      map.fitBounds(bounds, { padding: [16, 16], animate: false });
    } finally {
      fitting = false;
    }
  }
  map.on("movestart zoomstart", () => { if (!fitting) fitted = null; });
  if (window.ResizeObserver) {
    new ResizeObserver(() => { if (fitted) fitTo(fitted); }).observe(map.getContainer());
  }

  function showInfo(level, feature, childCount) {
    const p = feature ? feature.properties : null;
    const [childTh, childEn] = CHILD_NAMES[level] || [];
    let html;
    if (level === "national" || level === "region") {
      const r = level === "region" ? regions[els.region.value] : null;
      html = `<h2>${r ? esc(r.name_th) : "ประเทศไทย"}</h2>
        <p class="en">${r ? esc(r.name_en) : "Thailand"}</p>
        <dl><dt>จำนวน${childTh} <span class="en">${childEn}</span></dt><dd data-field="children">${childCount}</dd></dl>`;
      els.info.dataset.code = r ? r.code : "";
    } else {
      const region = regions[p.region];
      html = `<h2 data-field="name_th">${esc(p.name_th)}</h2>
        <p class="en" data-field="name_en">${esc(p.name_en)}</p>
        <dl>
          <dt>รหัส DOPA <span class="en">DOPA code</span></dt><dd data-field="code">${esc(p.code)}</dd>
          <dt>พื้นที่ <span class="en">Area</span></dt><dd data-field="area_km2">${fmt.format(p.area_km2)} ตร.กม. (km²)</dd>
          ${region ? `<dt>ภาค <span class="en">Region</span></dt><dd>${esc(region.name_th)} — ${esc(region.name_en)}</dd>` : ""}
          ${childTh ? `<dt>จำนวน${childTh} <span class="en">${childEn}</span></dt><dd data-field="children">${p.children}</dd>` : ""}
        </dl>
        ${p.in_registry ? "" : '<p class="warn">ไม่พบรหัสนี้ในทะเบียน DOPA ปัจจุบัน — code not in the current DOPA registry</p>'}`;
      els.info.dataset.code = p.code;
    }
    els.info.dataset.level = level;
    els.info.innerHTML = html;
  }

  async function apply(state, push) {
    const mine = busy();  // before the first await: the old view is no longer "ready"
    els.status.textContent = "กำลังโหลด… Loading…";
    try {
      // District and subdistrict lists come from the same (cached) answers the map draws.
      chain.showRegion(state.region);
      els.province.value = state.province;
      let districts = null;
      let subdistricts = null;
      if (state.province) {
        districts = await items("districts", { province: state.province, lod: 2 });
        areas.fill(els.district, districts.features, state.district);
      } else {
        areas.clear(els.district);
      }
      if (state.district) {
        subdistricts = await items("subdistricts", { district: state.district, lod: 1 });
        areas.fill(els.subdistrict, subdistricts.features, state.subdistrict);
      } else {
        areas.clear(els.subdistrict);
      }
      let level, selected = null, children = null, childLevel = null;
      if (state.subdistrict) {
        level = "subdistrict";
        selected = await item("subdistricts", state.subdistrict);
      } else if (state.district) {
        level = "district";
        selected = await item("districts", state.district);
        children = subdistricts;
        childLevel = "subdistrict";
      } else if (state.province) {
        level = "province";
        selected = await item("provinces", state.province);
        children = districts;
        childLevel = "district";
      } else {
        level = state.region ? "region" : "national";
        children = await items("provinces", state.region ? { region: state.region, lod: 2 } : { lod: 3 });
        childLevel = "province";
      }
      if (!current(mine)) return;  // a newer choice won the race
      // The panel first: on a phone it sits above the map, and its height is the map's.
      showInfo(level, selected, children ? children.numberMatched : 0);
      draw(selected, children, childLevel, state);
      writeState(state, push);
      els.status.textContent = "";
      ready(mine);
    } catch (err) {
      if (!failed(mine)) return;
      els.status.textContent = `โหลดข้อมูลไม่สำเร็จ — Could not load: ${err.message}`;
    }
  }

  function choose(level, code) {
    const s = readState();
    const state = { region: s.region, province: "", district: "", subdistrict: "" };
    if (level === "region") state.region = code;
    if (level === "province") state.province = code;
    if (level === "district") { state.district = code; state.province = code.slice(0, 2); }
    if (level === "subdistrict") {
      state.subdistrict = code; state.district = code.slice(0, 4); state.province = code.slice(0, 2);
    }
    if (!code) {
      // Going back up: keep the parents of the level that was cleared.
      const parents = { province: [], district: ["province"], subdistrict: ["province", "district"] };
      for (const k of parents[level] || []) state[k] = s[k];
    }
    apply(state, true);
  }

  els.region.addEventListener("change", () => {
    const state = { region: els.region.value, province: "", district: "", subdistrict: "" };
    apply(state, true);
  });
  for (const level of ["province", "district", "subdistrict"]) {
    els[level].addEventListener("change", () => choose(level, els[level].value));
  }
  window.addEventListener("popstate", () => apply(readState(), false));
  els.form.addEventListener("submit", (e) => e.preventDefault());
  apply(readState(), false);
})();
