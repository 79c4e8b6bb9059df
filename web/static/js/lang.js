// Thai / English switch (ภาษาไทย / English), on every page: the top bar's button, and a page's
// own #lang button (the tour pages). Remembered per browser. English mode sets <html lang="en">:
// app.css then shows the English of every bilingual label (.th / .en spans) on its own, texts
// that carry data-th and data-en are swapped, and page scripts read cddgisLang() / cddgisName()
// and listen for the "cddgis:lang" event to name areas in English (name_en).
(function () {
  "use strict";
  if (window.cddgisLang) return;  // loaded once by base.html; a page listing it again is a no-op
  const KEY = "cddgis.lang";
  const stored = () => {
    try { return localStorage.getItem(KEY) === "en" ? "en" : "th"; } catch (e) { return "th"; }
  };
  const buttons = () => document.querySelectorAll("#lang, [data-lang-switch]");
  function apply(lang) {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-th][data-en]")) {
      el.textContent = el.dataset[lang];
    }
    for (const el of document.querySelectorAll("[data-ph-th]")) {
      el.placeholder = lang === "en" ? el.dataset.phEn : el.dataset.phTh;
    }
    for (const b of buttons()) {
      // The visible text starts the accessible name (WCAG 2.5.3, label in name).
      b.textContent = lang === "th" ? "EN" : "ไทย";
      b.lang = lang === "th" ? "en" : "th";
      b.setAttribute("aria-label", lang === "th" ? "EN — English (เปลี่ยนเป็นภาษาอังกฤษ)"
                                                 : "ไทย — ภาษาไทย (switch to Thai)");
    }
    document.dispatchEvent(new CustomEvent("cddgis:lang", { detail: lang }));
  }
  let current = stored();
  window.cddgisLang = () => current;
  // An area's (or village's) name in the chosen language; Thai when it has no English.
  window.cddgisName = (props) => {
    if (!props) return "";
    return (current === "en" && props.name_en) ? props.name_en : (props.name_th || props.name_en || "");
  };
  document.addEventListener("click", (e) => {
    const b = e.target.closest && e.target.closest("#lang, [data-lang-switch]");
    if (!b) return;
    current = current === "th" ? "en" : "th";
    try { localStorage.setItem(KEY, current); } catch (err) { /* private mode: this page only */ }
    apply(current);
  });
  apply(current);
})();
