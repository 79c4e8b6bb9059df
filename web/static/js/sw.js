// cddgis's service worker (issue 24, item 4): the tour and the staff map with no network.
// Served at /sw.js (web/offline.py) so its scope covers /tour and /staff. Plain JS, no library.
//  - Install: the app shell (the pages' scripts, styles, fonts and map libraries, listed by
//    /offline/shell.json) into a cache named by the shell's version.
//  - Pages (/tour, the staff layer maps): network first; when the network fails or stays silent
//    for WAIT_MS (a firewall that drops requests answers nothing), the copy kept last.
//  - Data (items, clusters, the tour's search, the staff map's points): network first, then the
//    copy kept for the province, then an answer made here from the province's kept features.
//  - Tiles: the kept copy first (their URLs carry the tileset's version), else the network.
// Anything else (other pages, writes) is left to the browser untouched.
"use strict";

const VERSION = new URL(self.location.href).searchParams.get("v") || "0";
const SHELL = `cddgis-shell-${VERSION}`;
const PAGES = "cddgis-pages";
const KEPT = "cddgis-offline-province";  // offline.js writes it: features, tiles, pages, META
const META = "/offline/kept.json";       // the kept province's description (never on the server)
const WAIT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const shell = await (await fetch("/offline/shell.json", { cache: "no-store" })).json();
    const cache = await caches.open(SHELL);
    await cache.addAll(shell.urls);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("cddgis-shell-") && name !== SHELL) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// fetch() that gives up after WAIT_MS: a dropped request would otherwise hang for minutes.
async function network(request) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), WAIT_MS);
  try {
    return await fetch(request, { signal: abort.signal });
  } finally {
    clearTimeout(timer);
  }
}

const isPage = (url) => url.pathname === "/tour" || /^\/staff\/layers\/[^/]+$/.test(url.pathname);
const isTile = (url) => /\/tiles\/WebMercatorQuad\/\d+\/\d+\/\d+$/.test(url.pathname);
const isData = (url) => /^\/api\/collections\/[^/]+\/(items|clusters)$/.test(url.pathname)
  || url.pathname === "/tour/search.json" || url.pathname === "/tour/suggest.json"
  || /^\/staff\/layers\/[^/]+\/points\.json$/.test(url.pathname);

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Signing out forgets the staff pages kept (they name the account); the kept province stays.
  if (request.method === "POST" && url.pathname === "/staff/sign-out") {
    event.waitUntil(caches.delete(PAGES));
    return;
  }
  if (request.method !== "GET") return;
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && isPage(url)) event.respondWith(page(request));
  else if (url.pathname.startsWith("/static/")) event.respondWith(shellFirst(request));
  else if (isTile(url)) event.respondWith(keptFirst(request));
  else if (isData(url)) event.respondWith(data(request, url));
});

async function page(request) {
  try {
    const response = await network(request);
    if (response.ok && !response.redirected) {
      // Kept by path: these pages hold no data of their own (their scripts read the query),
      // so one copy a page is enough and the cache does not grow with every search.
      const copy = response.clone();
      caches.open(PAGES).then((c) => c.put(new URL(request.url).pathname, copy));
    }
    return response;
  } catch (err) {
    const kept = await caches.match(request) || await caches.match(request, { ignoreSearch: true });
    return kept || offlinePage();
  }
}

function offlinePage() {
  return new Response(
    "<!doctype html><meta charset=utf-8><title>ออฟไลน์ / Offline</title>"
    + "<h1>ไม่มีเครือข่าย และหน้านี้ไม่ได้เก็บไว้ใช้ออฟไลน์</h1>"
    + "<p>No network, and this page was not kept for offline use.</p>",
    { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

async function shellFirst(request) {
  const kept = await caches.match(request, { ignoreSearch: true });
  return kept || fetch(request);
}

async function keptFirst(request) {
  const kept = await caches.match(request);
  if (kept) return kept;
  try {
    return await network(request);
  } catch (err) {
    // A tileset's version moved on since the province was kept: the kept tile is still the place.
    const older = await caches.match(request, { ignoreSearch: true });
    if (older) return older;
    return new Response(null, { status: 204 });  // an empty tile: the map draws what it has
  }
}

async function data(request, url) {
  try {
    return await network(request);
  } catch (err) {
    const kept = await caches.match(request);
    if (kept) return kept;
    const answer = await fromKept(url);
    if (answer) return answer;
    return json({ code: "Offline", description: "ไม่มีเครือข่าย — no network" }, 503);
  }
}

function json(body, status = 200) {
  return new Response(JSON.stringify(body), {
    status, headers: { "Content-Type": "application/json", "X-Cddgis-Offline": "1" } });
}

async function keptMeta() {
  const cache = await caches.open(KEPT);
  const meta = await cache.match(META);
  return meta ? { cache, meta: await meta.json() } : null;
}

// The kept province answers what the pages ask with no network: the same filters the API
// applies that a page sends (province, product type, box, a typed name, nearest first, paging).
async function fromKept(url) {
  const kept = await keptMeta();
  if (!kept) return null;
  const { cache, meta } = kept;
  const p = url.searchParams;
  const staff = url.pathname.match(/^\/staff\/layers\/([^/]+)\/points\.json$/);
  if (staff) {
    const stored = (meta.staff || {})[staff[1]];
    const body = stored && await cache.match(stored);
    if (!body) return null;
    const points = (await body.json()).features.filter((f) => inBox(p.get("bbox"), f.lon, f.lat));
    const q = (p.get("q") || "").toLowerCase();
    return json({ features: points.filter((f) => !q || `${f.key} ${f.name}`.toLowerCase().includes(q)),
                  more: false, offline: true });
  }
  const layer = url.pathname.startsWith("/tour/") ? meta.layer
    : url.pathname.split("/")[3];
  if (layer !== meta.layer) return null;
  const stored = await cache.match(meta.features);
  if (!stored) return null;
  let features = (await stored.json()).features;
  const province = p.get("province");
  if (province && province !== meta.province.code) features = [];
  for (const [name, value] of p) {
    if (["province", "bbox", "q", "near", "limit", "offset", "zoom", "region", "f"].includes(name)) continue;
    features = features.filter((f) => String(f.properties[name]) === value);
  }
  features = features.filter((f) => inBox(p.get("bbox"), ...f.geometry.coordinates));
  const q = (p.get("q") || "").trim().toLowerCase();
  if (q) {
    features = features.filter((f) => Object.values(f.properties)
      .some((v) => typeof v === "string" && v.toLowerCase().includes(q)));
  }
  if (url.pathname.endsWith("/suggest.json")) {
    return json({ suggestions: features.slice(0, Number(p.get("limit") || 8)).map((f) => ({
      id: f.id, name_th: f.properties.village_name, name_en: f.properties.village_name_en || "",
      province_th: f.properties.province_th || "" })) });
  }
  if (url.pathname.endsWith("/clusters")) {
    return json({ clusters: features.map((f) => [...f.geometry.coordinates, 1, f.id]), offline: true });
  }
  const near = (p.get("near") || "").split(",").map(Number);
  if (near.length === 2 && near.every(Number.isFinite)) {
    features = features.map((f) => ({ ...f, properties: { ...f.properties,
      distance_km: km(near, f.geometry.coordinates) } }))
      .sort((a, b) => a.properties.distance_km - b.properties.distance_km);
  }
  const offset = Number(p.get("offset") || 0);
  const page = features.slice(offset, offset + Number(p.get("limit") || 100));
  return json({ type: "FeatureCollection", numberMatched: features.length,
                numberReturned: page.length, links: [], suggestions: [], place_suggestions: [],
                place: null, features: page, offline: true });
}

function inBox(bbox, lon, lat) {
  if (!bbox) return true;
  const [w, s, e, n] = bbox.split(",").map(Number);
  return lon >= w && lon <= e && lat >= s && lat <= n;
}

function km([lon1, lat1], [lon2, lat2]) {
  const r = Math.PI / 180;
  const a = Math.sin((lat2 - lat1) * r / 2) ** 2
    + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin((lon2 - lon1) * r / 2) ** 2;
  return 12742 * Math.asin(Math.sqrt(a));
}
