// A tourist's trip (issue 24, item 3), kept on their device only: localStorage, no account, and
// nothing sent to the server until they share it, when the link itself is the trip
// (/tour/trip?v=id1,id2,…). Used by the tour, a village page and a shared trip's page:
// - buttons with data-trip-save (data-id, data-name-th, data-name-en) add or remove a village;
// - #trip-list (on the tour) lists the trip with up/down/remove buttons, which work by touch and
//   by keyboard (no drag), and #trip-share is the link to share;
// - #trip-keep (on a shared trip's page) keeps that trip on this device.
// Every name is shown as text (textContent): a stored name can hold anything.
window.cddgisTrip = (function () {
  "use strict";
  const KEY = "cddgis.trip";
  const MAX = 20;  // as the server's /tour/trip takes (web/tour.py MAX_TRIP)
  const cfg = window.CDDGIS || {};
  const lang = () => (window.cddgisLang ? window.cddgisLang() : "th");
  const say = (th, en) => (lang() === "en" ? en : th);

  function valid(stop) {
    return stop && typeof stop.id === "string" && stop.id && !stop.id.includes(",");
  }
  function list() {
    try {
      const stored = JSON.parse(localStorage.getItem(KEY) || "[]");
      return Array.isArray(stored) ? stored.filter(valid).slice(0, MAX) : [];
    } catch (e) { return []; }
  }
  let memory = null;  // private mode without storage: this page only
  function read() { return memory || list(); }
  function write(stops) {
    try { localStorage.setItem(KEY, JSON.stringify(stops)); memory = null; }
    catch (e) { memory = stops; }
    render();
  }
  const has = (id) => read().some((s) => s.id === id);
  function add(stop) {
    const stops = read();
    if (stops.some((s) => s.id === stop.id)) return true;
    if (stops.length >= MAX) return false;
    write([...stops, { id: stop.id, name_th: stop.name_th || stop.id, name_en: stop.name_en || "" }]);
    return true;
  }
  function remove(id) { write(read().filter((s) => s.id !== id)); }
  function move(id, by) {
    const stops = read();
    const i = stops.findIndex((s) => s.id === id);
    const j = i + by;
    if (i < 0 || j < 0 || j >= stops.length) return;
    [stops[i], stops[j]] = [stops[j], stops[i]];
    write(stops);
  }
  function shareUrl(stops) {
    const ids = (stops || read()).map((s) => s.id);
    // Ids are kept readable (commas are the separator, so an id holding one is never stored).
    return ids.length ? new URL(`${cfg.tripUrl || "/tour/trip"}?v=${ids.map(encodeURIComponent).join(",")}`,
                                location.href).href : "";
  }
  const nameOf = (s) => (lang() === "en" && s.name_en ? s.name_en : s.name_th);

  function button(cls, text, label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  // The trip list on the tour page. After a move the same button of the moved village keeps the
  // focus, so a keyboard user can press it again.
  function renderList(focus) {
    const ol = document.getElementById("trip-list");
    if (!ol) return;
    const stops = read();
    ol.replaceChildren(...stops.map((s, i) => {
      const li = document.createElement("li");
      li.dataset.id = s.id;
      const a = document.createElement("a");
      a.href = (cfg.villageUrl || "/tour/__ID__").replace("__ID__", encodeURIComponent(s.id));
      a.textContent = nameOf(s);
      a.className = "trip-name";
      const other = document.createElement("span");
      other.className = "muted";
      const second = lang() === "en" ? s.name_th : s.name_en;
      other.textContent = second && second !== a.textContent ? ` ${second}` : "";
      const name = nameOf(s);
      const tools = document.createElement("span");
      tools.className = "trip-tools";
      const up = button("trip-up", "↑", say(`เลื่อน ${name} ขึ้น`, `Move ${name} up`), () => {
        move(s.id, -1); renderList({ id: s.id, cls: "trip-up" });
      });
      const down = button("trip-down", "↓", say(`เลื่อน ${name} ลง`, `Move ${name} down`), () => {
        move(s.id, 1); renderList({ id: s.id, cls: "trip-down" });
      });
      up.disabled = i === 0;
      down.disabled = i === stops.length - 1;
      // Labels start with the visible text (WCAG 2.5.3), then say which village.
      const drop = button("trip-remove", say("เอาออก", "Remove"), say(`เอาออก: ${name} (จากทริป)`,
                                                                        `Remove ${name} from the trip`), () => {
        const next = stops[i + 1] || stops[i - 1];
        remove(s.id);
        renderList(next ? { id: next.id, cls: "trip-remove" } : null);
      });
      tools.append(up, down, drop);
      li.append(a, other, tools);
      return li;
    }));
    if (focus) {
      const li = Array.from(ol.children).find((x) => x.dataset.id === focus.id);
      let target = li && li.querySelector(`.${focus.cls}`);
      if (target && target.disabled) target = li.querySelector("button:not([disabled])");
      if (target) target.focus();
    } else if (focus === null && !stops.length) {
      const heading = document.getElementById("trip-heading");
      if (heading) heading.focus();
    }
    const empty = document.getElementById("trip-empty");
    if (empty) empty.hidden = stops.length > 0;
    const share = document.getElementById("trip-share");
    if (share) {
      share.hidden = !stops.length;
      const link = document.getElementById("trip-link");
      link.href = shareUrl(stops);
    }
  }

  function renderButtons() {
    for (const b of document.querySelectorAll("[data-trip-save]")) {
      const saved = has(b.dataset.id);
      b.setAttribute("aria-pressed", String(saved));
      b.textContent = saved ? say("✓ อยู่ในทริปแล้ว", "✓ In my trip") : say("+ เพิ่มในทริป", "+ Add to my trip");
      // The visible text first (WCAG 2.5.3), then which village: a list has one per village.
      const name = lang() === "en" && b.dataset.nameEn ? b.dataset.nameEn : b.dataset.nameTh;
      b.setAttribute("aria-label", `${b.textContent}: ${name || b.dataset.id}`);
    }
    const n = read().length;
    for (const c of document.querySelectorAll("[data-trip-count]")) c.textContent = String(n);
  }

  function render(focus) {
    renderList(focus);
    renderButtons();
    document.dispatchEvent(new CustomEvent("cddgis:trip", { detail: read() }));
  }

  // A save button toggles its village; the trip holds at most MAX villages.
  document.addEventListener("click", (e) => {
    const b = e.target.closest && e.target.closest("[data-trip-save]");
    if (!b) return;
    e.preventDefault();
    const status = document.getElementById("trip-status");
    if (has(b.dataset.id)) remove(b.dataset.id);
    else if (!add({ id: b.dataset.id, name_th: b.dataset.nameTh, name_en: b.dataset.nameEn })) {
      if (status) status.textContent = `ทริปมีได้ไม่เกิน ${MAX} ชุมชน — a trip holds at most ${MAX} villages`;
      return;
    }
    if (status) status.textContent = "";
  });

  // Copy the share link (the phone's share sheet where there is one).
  document.addEventListener("click", async (e) => {
    if (!e.target.closest || !e.target.closest("#trip-copy")) return;
    const url = shareUrl();
    const status = document.getElementById("trip-status");
    try {
      if (navigator.share) await navigator.share({ title: document.title, url });
      else { await navigator.clipboard.writeText(url); status.textContent = "คัดลอกแล้ว / copied"; }
    } catch (err) { status.textContent = url; }
  });

  // A shared trip's page: keep its villages (names as the page shows them) on this device.
  const keep = document.getElementById("trip-keep");
  if (keep) {
    keep.addEventListener("click", () => {
      const stops = Array.from(document.querySelectorAll("#trip-stops li")).map((li) => {
        const name = li.querySelector("[data-th]");
        return { id: li.dataset.id, name_th: name.dataset.th, name_en: name.dataset.en };
      });
      write(stops.slice(0, MAX));
      document.getElementById("trip-keep-status").textContent =
        "บันทึกแล้ว: ดูได้ที่หน้าเที่ยวชุมชน — kept: see it on the tour page";
    });
  }

  // Another tab changed the trip; or the language changed.
  window.addEventListener("storage", (e) => { if (e.key === KEY) render(); });
  document.addEventListener("cddgis:lang", () => { renderList(); renderButtons(); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => render());
  else render();
  return { list: read, has, add, remove, move, shareUrl, refresh: renderButtons };
})();
