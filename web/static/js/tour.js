// GIS tour from home: OTOP Nawatwithi villages on a phone. Filters, name search and "near me"
// ask the API (a typed name asks the tour's own search, which forgives slips and English, and
// offers names as you type); the list says how many it shows of how many and loads more; the map shows the villages themselves when few match, and otherwise counts: at
// national and regional zoom a grid drawn from the layer's vector tiles (no name search), else
// server-side clusters. The page holds no village data of its own.
(function () {
  "use strict";
  const { getJSON, tip, iconBox, filterProvinces, busy, current, ready, failed,
          tileUrl } = window.cddgisCommon;
  const cfg = window.CDDGIS;
  const map = window.cddgisCommon.pageMap();
  const api = cfg.api.replace(/\/$/, "");
  const LAYER = cfg.layer.id;  // the layer declared with the "tour" role
  const LIST_SIZE = cfg.pageSize;
  const NEAREST_FIT = 5;  // "near me" shows you and this many nearest villages
  const POINTS_BELOW = 400;
  const TILES_BELOW = 8;  // below this zoom a point layer's tiles are a grid of counts
  const el = (id) => document.getElementById(id);
  const form = el("tour-filters");
  const drawn = L.layerGroup().addTo(map);
  const products = Object.fromEntries(cfg.productTypes.map((v, i) =>
    [v, { th: cfg.productLabels[i], en: cfg.productLabelsEn[i] }]));
  let near = null;  // [lon, lat] once the visitor shares their location
  let fitPending = false;  // a newer update must not drop the fit an older one was asked for
  const lang = () => window.cddgisLang();
  let grid = null;  // { url, layer }: the vector-tile grid drawn now
  let next = null;  // the next page of the list (the answer's "next" link), for "show more"
  let total = 0;
  const numberTh = new Intl.NumberFormat("th-TH");  // local formatter (common.js is maps15's)

  // Where a list page comes from: a typed name goes to the forgiving search, else the API.
  const itemsUrl = (p) => (p.get("q") ? `${cfg.searchUrl}?${p}` : `${api}/collections/${LAYER}/items?${p}`);
  const nextLink = (page) => ((page.links || []).find((l) => l.rel === "next") || {}).href || null;

  function showCounts() {
    const shown = el("village-list").children.length;
    el("shown").textContent = total ? (lang() === "en"
      ? `${numberTh.format(shown)} of ${numberTh.format(total)}`
      : `${numberTh.format(shown)} จาก ${numberTh.format(total)}`) : "";
    el("shown").dataset.shown = shown;
    el("more").hidden = !next;
  }

  // "No results" always says so; it offers the names most like it and the places (a province
  // or district: a tap searches it) most like it, when there are any.
  function showSuggestions(list, places) {
    const box = el("suggestions");
    box.hidden = list === null && !(places || []).length;
    el("no-results").hidden = list === null;
    el("did-you-mean").hidden = !(list || []).length && !(places || []).length;
    const placeItems = (places || []).map((pl) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link place-suggestion";
      const prefix = pl.level === "province" ? "จ." : "อ.";
      b.textContent = lang() === "en" ? `${pl.name_en} (${pl.name_th})` : `${prefix}${pl.name_th}`;
      b.addEventListener("click", () => { el("q").value = pl.name_th; update(true); });
      li.append(b);
      return li;
    });
    el("suggestion-list").replaceChildren(...placeItems, ...(list || []).map((s) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = cfg.villageUrl.replace("__ID__", encodeURIComponent(s.id));
      a.textContent = lang() === "en" ? `${s.name_en} (${s.name_th})` : s.name_th;
      const where = document.createElement("span");
      where.className = "muted";
      where.textContent = ` จ.${s.province_th}`;
      li.append(a, where);
      return li;
    }));
  }

  // The grid of counts for these filters (null: none); kept while its filters are the same.
  function showGrid(filters) {
    const url = filters && tileUrl(api, LAYER, filters);
    if (grid && grid.url === url) return;
    if (grid) { map.removeLayer(grid.layer); grid = null; }
    if (url) grid = { url, layer: window.cddgisGridLayer(LAYER, "#0369a1", url).addTo(map) };
  }

  function params() {
    const p = new URLSearchParams();
    for (const input of form.elements) {
      if (input.type === "checkbox") { if (input.checked) p.set(input.name, "1"); continue; }
      if (input.name && input.value.trim()) p.set(input.name, input.value.trim());
    }
    return p;
  }

  function writeUrl() {
    const p = params();
    history.replaceState(null, "", `${location.pathname}${p.toString() ? "?" + p : ""}`);
  }

  function readUrl() {
    const q = new URLSearchParams(location.search);
    for (const input of form.elements) {
      if (input.type === "checkbox") input.checked = q.get(input.name) === "1";
      else if (input.name && q.has(input.name)) input.value = q.get(input.name);
    }
    filterProvinces(el("t-region"), el("t-province"));
  }

  // English mode names villages in English: the declared English name, else the romanisation
  // the server keeps (/tour/names.json, asked once per village and remembered for the visit).
  const namesEn = new Map();
  const englishOf = (f) => f.properties.village_name_en || namesEn.get(String(f.id)) || "";
  function villageName(f) {
    return (lang() === "en" && englishOf(f)) || f.properties.village_name;
  }
  async function askNames(features) {
    if (lang() !== "en") return;
    const ids = [...new Set(features.filter((f) => !englishOf(f)).map((f) => String(f.id)))];
    const asks = [];
    for (let i = 0; i < ids.length;) {  // URLs of at most ~2,000 characters
      const part = [];
      let length = 0;
      while (i < ids.length && part.length < 400 && length < 2000) {
        length += encodeURIComponent(ids[i]).length + 1;
        part.push(ids[i++]);
      }
      asks.push(getJSON(`${cfg.namesUrl}?${new URLSearchParams({ v: part.join(",") })}`)
        .then((r) => { for (const [id, name] of Object.entries(r.names)) namesEn.set(id, name); })
        .catch(() => {}));  // best effort: without them the Thai names are shown
    }
    await Promise.all(asks);
  }

  function card(f) {
    const p = f.properties;
    const li = document.createElement("li");
    li.dataset.id = f.id;
    const a = document.createElement("a");
    a.href = cfg.villageUrl.replace("__ID__", encodeURIComponent(f.id));
    a.textContent = villageName(f);
    // Thai stays beside the English name (and the English beside the Thai when it is known).
    const other = lang() === "en" ? p.village_name : englishOf(f);
    const second = document.createElement("span");
    second.className = "muted other-name";
    second.textContent = other && other !== a.textContent ? ` ${other}` : "";
    const where = document.createElement("span");
    where.className = "muted";
    where.textContent = ` ${lang() === "en" ? "" : "จ."}${p.province_th || ""}`;
    const save = document.createElement("button");
    save.type = "button";
    save.className = "trip-save";
    save.dataset.tripSave = "";
    save.dataset.id = f.id;
    save.dataset.nameTh = p.village_name;
    save.dataset.nameEn = englishOf(f);
    li.append(a, second, where, save);
    if (p.distance_km !== undefined) {
      const d = document.createElement("span");
      d.className = "distance";
      d.textContent = ` ${p.distance_km.toFixed(1)} ${lang() === "en" ? "km" : "กม."}`;
      li.appendChild(d);
    }
    const type = products[p.product_type];
    const text = document.createElement("p");
    text.textContent = [type ? type[lang()] : "",
                        lang() === "en" ? p.highlights_en || p.highlights_th : p.highlights_th]
      .filter(Boolean).join(" · ");
    li.appendChild(text);
    return li;
  }

  function clusterIcon(count) {
    const size = Math.round(26 + Math.min(24, Math.log10(count + 1) * 9));
    return L.divIcon({
      html: iconBox("cluster-icon", String(count),
                    { width: `${size}px`, height: `${size}px`, background: "#0369a1" }),
      className: "cddgis-cluster", iconSize: [size, size],
    });
  }

  async function update(fit) {
    const mine = busy();
    fitPending = fitPending || fit;
    writeUrl();
    const p = params();
    try {
      // "In this view": the list keeps to the map's view (the map and its counts do not).
      const inView = p.get("in_view") === "1";
      p.delete("in_view");
      const list = new URLSearchParams(p);
      list.set("limit", LIST_SIZE);
      if (near) list.set("near", near.join(","));
      if (inView) list.set("bbox", map.getBounds().toBBoxString());
      const all = new URLSearchParams(p);
      all.set("zoom", Math.max(5, map.getZoom()));
      // Tiles take the area and product filters, not a name search.
      const tiled = Boolean(window.cddgisGridLayer) && !p.get("q") && map.getZoom() < TILES_BELOW;
      const [listed, clusters] = await Promise.all([
        getJSON(itemsUrl(list)),
        // With the grid from tiles, clusters are only wanted for where to fit the map.
        !tiled || fitPending ? getJSON(`${api}/collections/${LAYER}/clusters?${all}`) : null,
      ]);
      let points = null;
      if (listed.numberMatched <= POINTS_BELOW && !inView) {
        const q = new URLSearchParams(p);
        q.set("limit", POINTS_BELOW);
        points = await getJSON(itemsUrl(q));
      }
      await askNames([...listed.features, ...(points ? points.features : [])]);
      if (!current(mine)) return;
      el("count").textContent = new Intl.NumberFormat("th-TH").format(listed.numberMatched);
      // A place's name lists the villages in it: say which place (issue 24, item 1).
      const place = listed.place;
      el("place-note").textContent = !place ? "" : lang() === "en" ? ` in ${place.name_en}`
        : ` ใน${{ province: "จ.", district: "อ.", subdistrict: "ต." }[place.level] || ""}${place.name_th}`;
      el("count").dataset.value = listed.numberMatched;
      const ol = el("village-list");
      ol.replaceChildren(...listed.features.map(card));
      window.cddgisTrip.refresh();
      total = listed.numberMatched;
      next = nextLink(listed);
      showCounts();
      showSuggestions(listed.numberMatched === 0 ? listed.suggestions || [] : null,
                      listed.place_suggestions);
      drawn.clearLayers();
      showGrid(!points && tiled ? p : null);
      let fitTo = null;
      if (points) {
        for (const f of points.features) {
          const [lng, lat] = f.geometry.coordinates;
          L.circleMarker([lat, lng], { radius: 7, color: "#fff", weight: 1.5, fillColor: "#0369a1",
                                       fillOpacity: 0.9, className: "cddgis-point" })
            .bindTooltip(tip(villageName(f)))
            .on("click", () => { location.href = cfg.villageUrl.replace("__ID__", encodeURIComponent(f.id)); })
            .addTo(drawn);
        }
      } else if (tiled) {
        if (clusters && clusters.clusters.length) {
          fitTo = L.latLngBounds(clusters.clusters.map(([lng, lat]) => [lat, lng]));
        }
      } else {
        for (const [lng, lat, count] of clusters.clusters) {
          L.marker([lat, lng], { icon: clusterIcon(count) })
            .on("click", () => map.setView([lat, lng], Math.min(map.getZoom() + 2, 16)))
            .addTo(drawn);
        }
      }
      if (near) {
        L.circleMarker([near[1], near[0]], { radius: 8, color: "#b91c1c", weight: 3, fill: false })
          .addTo(drawn);
      }
      if (fitPending) {
        fitPending = false;
        map.invalidateSize();  // the container may have been laid out after the map was made
        const layers = drawn.getLayers();
        let bounds = fitTo || (layers.length ? L.featureGroup(layers).getBounds() : null);
        if (near) {  // you and the nearest villages, not the whole country
          bounds = L.latLngBounds([[near[1], near[0]]]);
          for (const f of listed.features.slice(0, NEAREST_FIT)) {
            bounds.extend([f.geometry.coordinates[1], f.geometry.coordinates[0]]);
          }
        }
        if (bounds) map.fitBounds(bounds.pad(0.1), { animate: false, maxZoom: 13 });
      }
      el("status").textContent = "";
      ready(mine);
    } catch (err) {
      if (!failed(mine)) return;
      el("status").textContent = `โหลดข้อมูลไม่สำเร็จ — Could not load: ${err.message}`;
    }
  }

  // The country's grid of counts (from tiles) is drawn on a canvas, not as markers: a tap zooms
  // in where it lands, as a cluster's marker does (issue 24: national clusters could not be tapped).
  map.on("click", (e) => { if (grid) map.setView(e.latlng, Math.min(map.getZoom() + 2, 16)); });

  // The list follows the map while "in this view" is ticked (a move is not a new search: no fit).
  map.on("moveend", () => { if (el("in-view").checked) update(false); });
  el("in-view").addEventListener("change", (e) => { e.stopPropagation(); update(false); });

  let timer = null;
  form.addEventListener("submit", (e) => { e.preventDefault(); update(true); });
  form.addEventListener("input", (e) => {
    if (e.target.name !== "q") return;
    busy();  // typing: the list shown is no longer the answer
    suggest();
    clearTimeout(timer);
    timer = setTimeout(() => update(true), 300);
  });
  form.addEventListener("change", (e) => {
    if (e.target.name === "q") return;
    if (e.target.name === "region") {
      filterProvinces(el("t-region"), el("t-province"));
      el("t-province").value = "";
    }
    update(true);
  });
  // "Show more": the next page of the same list, appended (the answer's own "next" link).
  el("more").addEventListener("click", async () => {
    if (!next) return;
    const mine = busy();
    try {
      const page = await getJSON(next);
      await askNames(page.features);
      if (!current(mine)) return;
      el("village-list").append(...page.features.map(card));
      window.cddgisTrip.refresh();
      next = nextLink(page);
      showCounts();
      el("status").textContent = "";
      ready(mine);
    } catch (err) {
      if (!failed(mine)) return;
      el("status").textContent = `โหลดข้อมูลไม่สำเร็จ — Could not load: ${err.message}`;
    }
  });

  // "Near me": its messages appear beside the button, where the visitor is looking.
  const nearStatus = (th, en) => {
    el("near-status").textContent = `${th} — ${en}`;
    el("near-status").scrollIntoView({ block: "nearest" });
  };
  el("near-me").addEventListener("click", () => {
    if (!navigator.geolocation) {
      nearStatus("เบราว์เซอร์นี้ไม่รองรับการระบุตำแหน่ง", "location is not available in this browser");
      return;
    }
    const mine = busy();
    el("near-status").textContent = lang() === "en" ? "Finding you…" : "กำลังหาตำแหน่ง…";
    navigator.geolocation.getCurrentPosition((pos) => {
      near = [pos.coords.longitude, pos.coords.latitude];
      el("near-status").textContent = "";
      el("near-note").textContent = lang() === "en" ? "(nearest first)" : "(เรียงจากใกล้ที่สุด)";
      update(true);
    }, (err) => {
      failed(mine);
      const denied = err.code === 1;
      nearStatus(denied ? "ไม่ได้รับอนุญาตให้ใช้ตำแหน่ง: อนุญาตในการตั้งค่าเบราว์เซอร์ หรือเลือกจังหวัดแทน"
                        : "ระบุตำแหน่งไม่ได้",
                 denied ? "location permission was refused: allow it in the browser settings, or pick a province"
                        : `could not get your location (${err.message})`);
    }, { timeout: 10000 });
  });

  // Autocomplete on the name box: an ARIA 1.2 combobox (list of names; arrows, Enter, Escape).
  const box = el("q");
  const options = el("q-options");
  let suggestAsk = 0;
  let active = -1;
  function closeOptions() {
    options.hidden = true;
    options.replaceChildren();
    box.setAttribute("aria-expanded", "false");
    box.removeAttribute("aria-activedescendant");
    active = -1;
  }
  function highlight(i) {
    const items = options.children;
    if (!items.length) return;
    active = (i + items.length) % items.length;
    for (const [j, li] of Array.from(items).entries()) li.setAttribute("aria-selected", String(j === active));
    box.setAttribute("aria-activedescendant", items[active].id);
    items[active].scrollIntoView({ block: "nearest" });
  }
  function choose(li) {
    location.href = cfg.villageUrl.replace("__ID__", encodeURIComponent(li.dataset.id));
  }
  async function suggest() {
    const typed = box.value.trim();
    const mine = ++suggestAsk;
    if (typed.length < 2) { closeOptions(); return; }
    try {
      const found = await getJSON(`${cfg.suggestUrl}?${new URLSearchParams({ q: typed, limit: 8 })}`);
      if (mine !== suggestAsk || box.value.trim() !== typed) return;
      options.replaceChildren(...found.suggestions.map((s, i) => {
        const li = document.createElement("li");
        li.id = `q-option-${i}`;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.id = s.id;
        li.textContent = lang() === "en" ? s.name_en : s.name_th;
        const more = document.createElement("span");
        more.className = "muted";
        more.textContent = lang() === "en" ? ` ${s.name_th} · ${s.province_th}` : ` ${s.name_en} · จ.${s.province_th}`;
        li.appendChild(more);
        li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(li); });
        return li;
      }));
      active = -1;
      box.removeAttribute("aria-activedescendant");
      options.hidden = !found.suggestions.length;
      box.setAttribute("aria-expanded", String(!options.hidden));
    } catch (err) { closeOptions(); }
  }
  box.addEventListener("keydown", (e) => {
    const open = !options.hidden && options.children.length;
    if (e.key === "ArrowDown" && open) { e.preventDefault(); highlight(active + 1); }
    else if (e.key === "ArrowUp" && open) { e.preventDefault(); highlight(active - 1); }
    else if (e.key === "Enter" && open && active >= 0) { e.preventDefault(); choose(options.children[active]); }
    else if (e.key === "Escape" && open) { e.preventDefault(); closeOptions(); }
  });
  box.addEventListener("blur", closeOptions);
  document.addEventListener("cddgis:lang", () => { if (document.body.dataset.state) update(false); });
  readUrl();
  // Listen to zooms only once the first view is drawn (and fitted), so they cannot cancel it.
  update(Boolean(location.search)).then(() => map.on("zoomend", () => update(false)));
})();
