// The page shell every page shares (base.html): the phone menu, and maps that a keyboard can use.
(function () {
  "use strict";

  // ---- phone menu -------------------------------------------------------------------------
  // On a narrow screen the top bar's links fold under one button (aria-expanded says whether
  // they are shown), so every page stays reachable at 390 px. Without this script they wrap.
  const bar = document.getElementById("topbar");
  const menu = document.getElementById("menu-button");
  const nav = document.getElementById("site-nav");
  if (bar && menu && nav) {
    bar.classList.add("js-menu");
    menu.hidden = false;
    const setOpen = (open) => {
      menu.setAttribute("aria-expanded", String(open));
      bar.classList.toggle("open", open);
    };
    menu.addEventListener("click", () => setOpen(menu.getAttribute("aria-expanded") !== "true"));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && bar.classList.contains("open")) {
        setOpen(false);
        menu.focus();
      }
    });
  }

  // ---- scroll boxes a keyboard can scroll ---------------------------------------------------
  // A side table that scrolls (layers, indicator maps) is a tab stop of its own, named by its
  // heading, so arrow keys scroll it even when nothing inside it can take focus.
  let boxes = 0;
  for (const box of document.querySelectorAll(".table-panel, .table-scroll")) {
    if (box.hasAttribute("tabindex")) continue;
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    const heading = box.querySelector("h2, h3");
    if (heading) {
      boxes += 1;
      if (!heading.id) heading.id = `table-heading-${boxes}`;
      box.setAttribute("aria-labelledby", heading.id);
    } else {
      box.setAttribute("aria-label", "ตาราง — Table");
    }
  }

  // ---- maps: one tab stop each -------------------------------------------------------------
  // Leaflet makes every clickable polygon and marker a tab stop (7,425 on the subdistrict map).
  // The map itself stays one tab stop (arrow keys pan, + and − zoom); its polygons and markers
  // stay clickable but leave the tab order: the page's table or list is the keyboard's way to
  // the same places.
  const MAP_LABEL = "แผนที่: ลูกศรเพื่อเลื่อน, + และ − เพื่อซูม — Map: arrow keys pan, + and − zoom";
  const STOPS = ".leaflet-pane .leaflet-interactive, .leaflet-marker-icon";
  function untabOne(el) {
    if (el.matches(STOPS)) {
      if (el.getAttribute("tabindex") !== "-1") el.setAttribute("tabindex", "-1");
    } else if (el.classList.contains("leaflet-container") && !el.hasAttribute("aria-label")) {
      el.setAttribute("role", "region");
      el.setAttribute("aria-label", MAP_LABEL);
    }
  }
  function untab(root) {
    if (root.nodeType !== 1) return;
    untabOne(root);
    if (root.firstElementChild) {
      for (const el of root.querySelectorAll(`${STOPS}, .leaflet-container`)) untabOne(el);
    }
  }
  untab(document.body);
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") untabOne(r.target);
      for (const n of r.addedNodes) untab(n);
    }
  }).observe(document.body, { childList: true, subtree: true, attributes: true,
                              attributeFilter: ["tabindex", "class"] });
})();
