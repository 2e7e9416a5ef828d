// Shared by the wallboard and the supervisor console (loaded first): the API key and a DOM helper.
"use strict";

window.sqm = (function () {
  // The key, if any: from the address fragment (#key=...), kept for this tab only and taken out of the address.
  function takeKey() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("key")) {
      sessionStorage.setItem("sqm-key", fragment.get("key"));
      history.replaceState(null, "", location.pathname + location.search);
    }
    addEventListener("hashchange", () => {
      const key = new URLSearchParams(location.hash.slice(1)).get("key");
      if (key) { sessionStorage.setItem("sqm-key", key); location.replace(location.pathname + location.search); }
    });
    return sessionStorage.getItem("sqm-key");
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  return { takeKey, el };
})();
