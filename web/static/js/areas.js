// The area drop-downs every map page shares: region → province → district → subdistrict.
// Regions and provinces come in the page (macros.region_province); districts and subdistricts are
// fetched from the API when their parent is chosen. Names are set as text: they can hold anything.
window.cddgisAreas = (function () {
  "use strict";
  const { getJSON, filterProvinces } = window.cddgisCommon;
  const ALL = "ทั้งหมด — All";

  // Fills a drop-down with areas (GeoJSON features), sorted the Thai way, and selects `value`.
  function fill(select, features, value, blank = ALL) {
    const sorted = [...features].sort((a, b) =>
      a.properties.name_th.localeCompare(b.properties.name_th, "th"));
    const options = [new Option(blank, "")];
    for (const f of sorted) {
      options.push(new Option(`${f.properties.name_th} — ${f.properties.name_en}`, f.properties.code));
    }
    select.replaceChildren(...options);
    select.disabled = false;
    select.value = value || "";
  }

  // Nothing chosen above it: the drop-down is empty and off.
  function clear(select) {
    select.replaceChildren(new Option("—", ""));
    select.disabled = true;
  }

  // The area a link names; a child code implies its parents, so a short URL is still consistent.
  function fromQuery(q) {
    const s = {};
    for (const k of ["region", "province", "district", "subdistrict"]) s[k] = q.get(k) || "";
    if (s.subdistrict) s.district = s.subdistrict.slice(0, 4);
    if (s.district) s.province = s.district.slice(0, 2);
    return s;
  }

  // The drop-downs of one form ({region, province, district, subdistrict}; any may be missing).
  // `blank`: the "all" label per collection, e.g. { districts: "ทั้งจังหวัด — Whole province" }.
  function chain(api, selects, { lod = 3, blank = {} } = {}) {
    const { region, province, district, subdistrict } = selects;
    async function load(select, collection, parent, code, value) {
      if (!select) return null;
      if (!code) { clear(select); return null; }
      const fc = await getJSON(`${api}/collections/${collection}/items?` +
        new URLSearchParams({ [parent]: code, limit: 1000, lod }));
      fill(select, fc.features, value, blank[collection] || ALL);
      return fc;
    }
    const districts = (code, value) => load(district, "districts", "province", code, value);
    const subdistricts = (code, value) => load(subdistrict, "subdistricts", "district", code, value);
    function showRegion(code) {
      if (!region) return;
      region.value = code || "";
      if (province) filterProvinces(region, province);
    }
    return {
      districts,
      subdistricts,
      showRegion,
      // A choice in one drop-down empties and refills those below it. True when it was an area.
      async changed(name) {
        if (name === "region") {
          showRegion(region.value);
          province.value = "";
          await districts("", "");
          await subdistricts("", "");
        } else if (name === "province") {
          await districts(province.value, "");
          await subdistricts("", "");
        } else if (name === "district") {
          await subdistricts(district.value, "");
        }
        return ["region", "province", "district", "subdistrict"].includes(name);
      },
      // Puts a link's area back into the drop-downs (fetching the lists it needs).
      async restore(area) {
        showRegion(area.region);
        province.value = area.province;
        await districts(area.province, area.district);
        await subdistricts(area.district, area.subdistrict);
      },
    };
  }

  return { fill, clear, fromQuery, chain, filterProvinces };
})();
