// Offline in the field (issue 24, item 4), on the tour and the staff map pages:
//  - registers the service worker (/sw.js, web/static/js/sw.js);
//  - "Keep this province offline": asks the server what that takes (features, basemap tiles at a
//    bounded zoom range; a size estimate shown before anything is fetched), then fetches it into
//    Cache Storage with progress, says the size kept, and can remove it;
//  - staff edits saved with no network are queued in IndexedDB, with the version and the values
//    they were based on, and sent when the network returns (the online event, a retry on page
//    open and every RETRY_MS) with a fresh CSRF token, so the server's version check decides:
//    a save made meanwhile gets this one merged on top (as on the web), or it is refused with why.
(function () {
  "use strict";
  const cfg = (window.CDDGIS && window.CDDGIS.offline) || null;
  if (!cfg || !("serviceWorker" in navigator) || !window.caches) return;
  const el = (id) => document.getElementById(id);
  const KEPT = "cddgis-offline-province";
  const META = "/offline/kept.json";
  const PARALLEL = 6;
  const WAIT_MS = 4000;
  const RETRY_MS = 20000;
  const fmt = new Intl.NumberFormat("th-TH");
  const mb = (bytes) => `${(bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0)} MB`;
  const say = (node, th, en) => { if (node) node.textContent = `${th} / ${en}`; };

  // ---- keep one province ----------------------------------------------------------------------
  // The pages that keep a province (the tour, a staff layer's map) install the service worker,
  // once the page has loaded; a feature's page needs none to queue its edits.
  const panel = el("offline-panel");
  if (panel) {
    const install = () => navigator.serviceWorker.register(cfg.sw, { scope: "/" }).catch((err) => {
      say(el("offline-status"), "ติดตั้งการใช้งานออฟไลน์ไม่สำเร็จ", `offline use could not be set up: ${err.message}`);
    });
    if (document.readyState === "complete") install(); else window.addEventListener("load", install);
  }
  let plan = null;

  async function keptMeta() {
    if (!(await caches.has(KEPT))) return null;  // (open would make it, empty)
    const cache = await caches.open(KEPT);
    const meta = await cache.match(META);
    return meta ? meta.json() : null;
  }

  async function showKept() {
    const meta = await keptMeta();
    const kept = el("offline-kept");
    el("offline-remove").hidden = !meta;
    panel.dataset.kept = meta ? meta.province.code : "";
    if (!meta) { say(kept, "ยังไม่ได้เก็บจังหวัดใดไว้", "no province kept"); return; }
    say(kept, `เก็บไว้แล้ว: จ.${meta.province.name_th} ${fmt.format(meta.count)} ไฟล์ ${mb(meta.bytes)}`,
        `kept: ${meta.province.name_en}, ${fmt.format(meta.count)} files, ${mb(meta.bytes)}`);
    kept.dataset.bytes = meta.bytes;
  }

  async function askPlan() {
    const code = el("offline-province").value;
    if (!code) { say(el("offline-estimate"), "เลือกจังหวัดก่อน", "choose a province first"); return; }
    el("offline-plan").disabled = true;
    try {
      const r = await fetch(cfg.plan.replace("/00.json", `/${code}.json`));
      const body = await r.json();
      if (!r.ok) throw new Error(body.description || r.statusText);
      plan = body;
      const files = body.tiles.length + 1 + pagesToKeep().length;
      say(el("offline-estimate"),
          `จ.${body.province.name_th}: ${fmt.format(files)} ไฟล์ (แผนที่ซูม ${body.zoom[0]}–${body.zoom[1]}) ประมาณ ${mb(body.estimate_bytes)}`,
          `${body.province.name_en}: ${fmt.format(files)} files (map zoom ${body.zoom[0]}–${body.zoom[1]}), about ${mb(body.estimate_bytes)}`);
      el("offline-estimate").dataset.bytes = body.estimate_bytes;
      el("offline-download").hidden = false;
    } catch (err) {
      say(el("offline-estimate"), "ดูขนาดไม่สำเร็จ", `could not plan: ${err.message}`);
    } finally {
      el("offline-plan").disabled = false;
    }
  }

  // The pages themselves, and on the staff map the layer's points in the province's box.
  function pagesToKeep() {
    const urls = [location.pathname];
    if (location.pathname === "/tour" && plan) urls.push(`/tour?province=${plan.province.code}`);
    return urls;
  }

  async function download() {
    if (!plan) return;
    el("offline-download").hidden = true;
    el("offline-plan").disabled = true;
    const staff = (window.CDDGIS.staff || {});
    const staffPoints = staff.points ? `${staff.points}?bbox=${plan.bbox.join(",")}` : null;
    const urls = [plan.features, ...(staffPoints ? [staffPoints] : []), ...pagesToKeep(), ...plan.tiles];
    const progress = el("offline-progress");
    progress.hidden = false;
    progress.max = urls.length;
    progress.value = 0;
    await caches.delete(KEPT);  // one province at a time
    const cache = await caches.open(KEPT);
    let bytes = 0;
    let done = 0;
    let failed = 0;
    const queue = [...urls];
    async function worker() {
      while (queue.length) {
        const url = queue.shift();
        try {
          const r = await fetch(url, { cache: "no-store", credentials: "same-origin" });
          if (!r.ok && r.status !== 204) throw new Error(r.statusText);
          const blob = await r.blob();
          await cache.put(url, new Response(blob, { status: r.status === 204 ? 200 : r.status, headers: r.headers }));
          bytes += blob.size;
        } catch (err) {
          failed += 1;
        }
        done += 1;
        progress.value = done;
        say(el("offline-estimate"), `กำลังเก็บ ${fmt.format(done)} จาก ${fmt.format(urls.length)} (${mb(bytes)})`,
            `keeping ${fmt.format(done)} of ${fmt.format(urls.length)} (${mb(bytes)})`);
      }
    }
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const meta = { province: plan.province, bbox: plan.bbox, layer: plan.layer, features: plan.features,
                   staff: staffPoints ? { [staff.layer]: staffPoints } : {},
                   count: urls.length - failed, failed, bytes, at: new Date().toISOString() };
    await cache.put(META, new Response(JSON.stringify(meta), { headers: { "Content-Type": "application/json" } }));
    progress.hidden = true;
    el("offline-plan").disabled = false;
    say(el("offline-estimate"), failed ? `เก็บไม่ได้ ${fmt.format(failed)} ไฟล์` : "เก็บครบแล้ว",
        failed ? `${fmt.format(failed)} files could not be kept` : "all kept");
    await showKept();
  }

  if (panel) {
    const choice = el("offline-province");
    const tourProvince = el("t-province");
    if (tourProvince && tourProvince.value) choice.value = tourProvince.value;
    if (tourProvince) tourProvince.addEventListener("change", () => { if (tourProvince.value) choice.value = tourProvince.value; });
    el("offline-plan").addEventListener("click", askPlan);
    el("offline-download").addEventListener("click", download);
    el("offline-remove").addEventListener("click", async () => {
      await caches.delete(KEPT);
      say(el("offline-estimate"), "ลบแล้ว", "removed");
      await showKept();
    });
    showKept();
  }

  // ---- staff edits queued while offline ---------------------------------------------------
  const DB = "cddgis-offline";
  const STORE = "edits";
  const RESULTS = "cddgis.offlineResults";

  function db() {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(DB, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  async function tx(mode, work) {
    const conn = await db();
    return new Promise((resolve, reject) => {
      const t = conn.transaction(STORE, mode);
      const result = work(t.objectStore(STORE));
      t.oncomplete = () => { conn.close(); resolve(result.result); };
      t.onerror = () => { conn.close(); reject(t.error); };
    });
  }
  const queued = () => tx("readonly", (s) => s.getAll());
  const enqueue = (edit) => tx("readwrite", (s) => s.add(edit));
  const dequeue = (id) => tx("readwrite", (s) => s.delete(id));

  async function showQueue() {
    const node = el("offline-queue");
    if (!node) return;
    const n = (await queued()).length;
    node.dataset.waiting = n;
    say(node, n ? `รอส่ง ${fmt.format(n)} รายการ` : "ไม่มีการแก้ไขที่รอส่ง",
        n ? `${fmt.format(n)} edit${n === 1 ? "" : "s"} waiting to send` : "no edits waiting");
  }
  function results() {
    try { return JSON.parse(localStorage.getItem(RESULTS) || "[]"); } catch (e) { return []; }
  }
  function showResults() {
    const list = el("offline-results");
    if (!list) return;
    list.replaceChildren(...results().map((r) => {
      const li = document.createElement("li");
      li.className = `offline-result result-${r.state}`;
      li.dataset.state = r.state;
      const a = document.createElement("a");
      a.href = r.page;
      a.textContent = r.name;
      li.append(a, ` — ${r.text}`);
      return li;
    }));
  }
  function record(edit, state, text) {
    const kept = [{ name: edit.name, page: edit.page, state, text, at: new Date().toISOString() }, ...results()];
    try { localStorage.setItem(RESULTS, JSON.stringify(kept.slice(0, 20))); } catch (e) { /* full */ }
    showResults();
  }

  async function reachable() {
    if (!navigator.onLine) return null;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), WAIT_MS);
    try {
      const r = await fetch(cfg.csrf, { signal: abort.signal, cache: "no-store", headers: { Accept: "application/json" } });
      if (r.redirected) return { signedOut: true };
      return r.ok ? await r.json() : null;
    } catch (err) {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  // The server answers a save with a redirect (saved), 409 with the form merged on top of the
  // save made first, or the form again with why it was refused.
  const TEXT = {
    sent: ["ส่งแล้ว", "sent"],
    pending: ["ส่งแล้ว รออนุมัติ", "sent, waiting for approval"],
    merged: ["ส่งแล้ว: รวมกับการแก้ไขที่บันทึกก่อนหน้า", "sent, merged on top of a save made meanwhile"],
  };
  async function post(action, fields, token) {
    const body = new URLSearchParams(fields);
    body.set("csrf_token", token);
    return fetch(action, { method: "POST", body, credentials: "same-origin" });
  }
  function reason(html) {
    // Only the form and the messages are read: styles and scripts are cut out first, so the
    // parsed copy asks nothing of the page's CSP.
    const inert = html.replace(/<(style|script)\b[\s\S]*?<\/\1>/gi, "");
    const doc = new DOMParser().parseFromString(inert, "text/html");
    const parts = [doc.getElementById("save-message"), ...doc.querySelectorAll(".problems li, .field-problem, .problem")]
      .filter(Boolean).map((n) => n.textContent.trim()).filter(Boolean);
    return { doc, text: parts.join("; ") || "ไม่ทราบเหตุผล / no reason given" };
  }
  let sending = false;
  async function sendQueued() {
    if (sending) return;
    const edits = await queued();
    if (!edits.length) return;
    sending = true;
    try {
      const fresh = await reachable();
      if (!fresh) return;  // still no network: the next online event or retry
      if (fresh.signedOut) {
        say(el("offline-status"), "ลงชื่อเข้าใช้อีกครั้งเพื่อส่งการแก้ไขที่รอ", "sign in again to send the edits waiting");
        return;
      }
      for (const edit of edits) {
        let r;
        try { r = await post(edit.action, edit.fields, fresh.csrf_token); } catch (err) { return; }
        const saved = r.redirected && new URL(r.url).searchParams.get("saved");
        if (saved) {
          record(edit, "sent", (saved === "pending" ? TEXT.pending : TEXT.sent).join(" / "));
        } else if (r.status === 409) {
          // Someone saved first: the server merged this edit on top; send that if no field clashes.
          const { doc, text } = reason(await r.text());
          const form = doc.getElementById("feature-form");
          if (form && !doc.querySelector("#conflict tr.changed")) {
            const again = await post(edit.action, Array.from(new FormData(form).entries())
              .filter(([k]) => k !== "csrf_token"), fresh.csrf_token);
            const ok = again.redirected && new URL(again.url).searchParams.get("saved");
            record(edit, ok ? "merged" : "refused", ok ? TEXT.merged.join(" / ")
              : `ไม่ได้บันทึก / refused: ${reason(await again.text()).text}`);
          } else {
            record(edit, "conflict", `ขัดกับการแก้ไขอื่น เปิดจุดนี้เพื่อตัดสิน / conflicts with another save: open the feature to decide (${text})`);
          }
        } else if (r.redirected && new URL(r.url).pathname.endsWith("/sign-in")) {
          return;
        } else {
          record(edit, "refused", `ไม่ได้บันทึก / refused: ${reason(await r.text()).text}`);
        }
        await dequeue(edit.id);
        await showQueue();
      }
    } finally {
      sending = false;
    }
  }

  // A save on a feature page with no network (or one that drops requests) is kept to send later.
  const form = el("feature-form");
  if (form) {
    form.addEventListener("submit", async (e) => {
      if (form.dataset.online === "1") return;  // checked: the browser posts the form itself
      e.preventDefault();
      const fresh = await reachable();
      if (fresh) {
        form.dataset.online = "1";
        form.requestSubmit();
        return;
      }
      const fields = Array.from(new FormData(form).entries()).filter(([k]) => k !== "csrf_token");
      const name = (document.querySelector("h1") || {}).textContent || location.pathname;
      await enqueue({ action: form.action, fields, page: location.pathname, name: name.trim(),
                      version: form.elements.version && form.elements.version.value, at: new Date().toISOString() });
      say(el("offline-status"), "ไม่มีเครือข่าย: เก็บการแก้ไขไว้ในเครื่อง จะส่งเมื่อกลับมาออนไลน์",
          "no network: the edit is kept on this device and sent when the network returns");
      await showQueue();
    });
  }

  if (el("offline-queue")) {
    showQueue();
    showResults();
    window.addEventListener("online", sendQueued);
    sendQueued().then(showQueue);
    setInterval(() => { sendQueued(); }, RETRY_MS);
  }
})();
