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
  return { getJSON, esc, tip, iconBox, filterProvinces, busy, current, ready, failed };
})();
