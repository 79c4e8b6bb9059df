// Thai / English switch for pages whose texts carry data-th and data-en. Remembered per browser.
(function () {
  "use strict";
  const KEY = "cddgis.lang";
  const button = document.getElementById("lang");
  function apply(lang) {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-th][data-en]")) {
      el.textContent = el.dataset[lang];
    }
    for (const el of document.querySelectorAll("[data-ph-th]")) {
      el.placeholder = lang === "en" ? el.dataset.phEn : el.dataset.phTh;
    }
    if (button) button.textContent = lang === "th" ? "EN" : "ไทย";
    document.dispatchEvent(new CustomEvent("cddgis:lang", { detail: lang }));
  }
  window.cddgisLang = () => localStorage.getItem(KEY) || "th";
  if (button) {
    button.addEventListener("click", () => {
      const next = window.cddgisLang() === "th" ? "en" : "th";
      localStorage.setItem(KEY, next);
      apply(next);
    });
  }
  apply(window.cddgisLang());
})();
