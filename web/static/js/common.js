// Small helpers shared by the page scripts.
window.cddgisCommon = (function () {
  "use strict";
  // Fetches JSON; an API error becomes an Error with the API's own (Thai/English) message.
  async function getJSON(url) {
    const r = await fetch(url);
    const body = await r.json();
    if (!r.ok) throw new Error(body.description || r.statusText);
    return body;
  }
  // Text for innerHTML: names can hold anything, even <script>.
  function esc(text) {
    const d = document.createElement("div");
    d.textContent = text == null ? "" : String(text);
    return d.innerHTML;
  }
  // Tooltip content as a DOM node: Leaflet puts a string in with innerHTML, and a stored name can
  // hold <img onerror=…>; a node with textContent shows it as the text it is.
  function tip(text) {
    const span = document.createElement("span");
    span.textContent = text == null ? "" : String(text);
    return span;
  }
  // A map icon's box, styled through the DOM: the CSP allows no style="" in markup.
  function iconBox(className, text, style) {
    const div = document.createElement("div");
    div.className = className;
    div.textContent = text;
    Object.assign(div.style, style);
    return div;
  }
  // Shows only the provinces of the chosen region (options carry data-region).
  function filterProvinces(regionSelect, provinceSelect) {
    const region = regionSelect.value;
    for (const opt of provinceSelect.options) {
      if (opt.value) opt.hidden = Boolean(region) && opt.dataset.region !== region;
    }
  }

  // ---- numbers and dates the Thai way (th-TH; years in the Buddhist Era) -----------------------
  const formats = new Map();
  function nf(options) {
    const key = JSON.stringify(options);
    if (!formats.has(key)) {
      formats.set(key, new Intl.NumberFormat("th-TH", { numberingSystem: "latn", ...options }));
    }
    return formats.get(key);
  }
  // Thousands separators; decimals only where they carry meaning. Small values keep significant
  // digits (0.00214, never "0"): per-km² and per-1,000 rates are mostly below 1. `digits` asks for
  // that many significant digits whatever the size; `signed` writes + and − (a change).
  function formatNumber(x, { digits = null, signed = false } = {}) {
    if (x == null || Number.isNaN(Number(x))) return "—";
    const v = Number(x);
    const a = Math.abs(v);
    const sign = signed ? { signDisplay: "exceptZero" } : {};
    let options;
    if (a === 0) options = { maximumFractionDigits: 0 };
    else if (digits) {
      options = a >= 10 ** digits ? { maximumFractionDigits: 0 } : { maximumSignificantDigits: digits };
    } else if (a >= 1000) options = { maximumFractionDigits: 0 };
    else if (a >= 10) options = { maximumFractionDigits: 1 };
    else if (a >= 1) options = { maximumFractionDigits: 2 };
    else options = { maximumSignificantDigits: 3 };
    return nf({ ...options, ...sign }).format(v).replace(/^-/, "\u2212");
  }
  // Labels for class bounds that tell neighbours apart: more significant digits until bounds that
  // differ read differently (a legend must never say "0 – 0").
  function formatBounds(values, options = {}) {
    const distinct = new Set(values.map(Number)).size;
    for (const digits of [null, 3, 4, 5, 6, 8, 10]) {
      const labels = values.map((v) => formatNumber(v, { ...options, digits }));
      if (new Set(labels).size === distinct) return labels;
    }
    return values.map((v) => formatNumber(v, { ...options, digits: 15 }));
  }
  // A year of the Buddhist Era: never "2,563". A Gregorian year (below 2400) becomes B.E.
  function formatYear(y) {
    if (y == null || y === "") return "";
    const n = Number(y);
    if (!Number.isFinite(n)) return String(y);
    return String(n < 2400 ? n + 543 : n);
  }
  // A date as Thais write it, in the Buddhist Era: "25 พฤศจิกายน 2569".
  function formatDateBE(value, { time = false } = {}) {
    if (value == null || value === "") return "";
    const d = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(d.getTime())) return String(value);
    return d.toLocaleString("th-TH-u-ca-buddhist-nu-latn", {
      year: "numeric", month: "long", day: "numeric",
      ...(time ? { hour: "2-digit", minute: "2-digit" } : {}),
    });
  }

  // ---- a copy-link button (officers share views) ----------------------------------------------
  // Copies what `url()` gives (the page's own address by default) and says so next to it.
  function copyLinkButton(button, url = () => location.href) {
    const note = document.createElement("span");
    note.className = "copy-note";
    note.setAttribute("role", "status");
    button.after(note);
    button.addEventListener("click", async () => {
      const text = url();
      try {
        await navigator.clipboard.writeText(text);
        note.textContent = "คัดลอกลิงก์แล้ว — Link copied";
      } catch (err) {
        // No clipboard (an http address that is not this machine): select it for Ctrl+C.
        const input = document.createElement("input");
        input.value = text;
        input.readOnly = true;
        input.className = "copy-fallback";
        input.setAttribute("aria-label", "ลิงก์ — Link");
        note.replaceChildren(input);
        input.select();
      }
      button.dataset.copied = text;
    });
  }

  // ---- the page's one readiness signal ----------------------------------------------------
  // <body data-state="loading|ready|error" data-view="N">: N numbers the loads, so a test (or a
  // screen reader script) can tell a *new* "ready" from the previous view's. A page calls busy()
  // synchronously, before its first await, so it never reports "ready" for a view it is replacing;
  // a load whose view is no longer current may not report at all (a newer choice won the race).
  let view = 0;
  function busy() {
    view += 1;
    document.body.dataset.state = "loading";
    document.body.dataset.view = String(view);
    return view;
  }
  const current = (v) => v === view;
  function ready(v) {
    if (v !== view) return false;
    document.body.dataset.state = "ready";
    return true;
  }
  function failed(v) {
    if (v !== view) return false;
    document.body.dataset.state = "error";
    return true;
  }
  // A collection's tile URL template, with these filters and the tileset's version as the
  // page was served (window.CDDGIS.tileVersions): such a URL names the data, so the proxy and
  // the browser keep its tiles; a write gives the next page load new URLs.
  function tileUrl(api, collection, params) {
    const p = new URLSearchParams(params || "");
    const versions = (window.CDDGIS && window.CDDGIS.tileVersions) || {};
    if (versions[collection]) p.set("v", versions[collection]);
    const qs = p.toString();
    return `${api.replace(/\/$/, "")}/collections/${encodeURIComponent(collection)}` +
      `/tiles/WebMercatorQuad/{z}/{x}/{y}${qs ? "?" + qs : ""}`;
  }

  // ---- maps (docs/architecture.md, "Maps on pages") -------------------------------------------
  // The page's Folium map, by the one hook web/maps.py writes (MapHook): window.cddgisMaps[name],
  // registered in the map's own script, which runs before the page scripts. A script that may run
  // earlier listens for the "cddgis:map-ready" event on document instead (detail: {name, map}).
  function pageMap(name = "page") {
    return (window.cddgisMaps || {})[name] || null;
  }
  // The shared defaults, as web/maps.py has them for the Folium maps (tests/test_maps.py checks
  // that the two agree): Thailand in view, fitted without animation, and the basemap's zoom limit.
  const MAP_DEFAULTS = { bounds: [[5.6, 97.3], [20.5, 105.7]], basemapMaxZoom: 18 };
  // A map a page script makes itself, on a page without a Folium map (the API's item pages, the
  // dashboard's small map, an upload's report): Leaflet's options as the page wants them, the
  // shared first view, and the operator's raster basemap when `tiles` is given.
  function handMap(el, options, { tiles = "", attribution = "" } = {}) {
    const map = window.L.map(el, options || {});
    map.fitBounds(MAP_DEFAULTS.bounds, { animate: false });
    if (tiles) {
      window.L.tileLayer(tiles, { attribution, maxZoom: MAP_DEFAULTS.basemapMaxZoom }).addTo(map);
    }
    return map;
  }
  return { getJSON, esc, tip, iconBox, filterProvinces, busy, current, ready, failed,
           formatNumber, formatBounds, formatYear, formatDateBE, copyLinkButton, tileUrl,
           pageMap, handMap, MAP_DEFAULTS };
})();
