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
  // Shows only the provinces of the chosen region (options carry data-region).
  function filterProvinces(regionSelect, provinceSelect) {
    const region = regionSelect.value;
    for (const opt of provinceSelect.options) {
      if (opt.value) opt.hidden = Boolean(region) && opt.dataset.region !== region;
    }
  }
  return { getJSON, esc, filterProvinces };
})();
