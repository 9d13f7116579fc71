// Descent page loader, 1 of 5 (the build puts them in every page's head, in this order:
// common, card, boot, offline, embedding). What they share: the site's root, the boot stages
// the build wrote on this tag (sitebuild.loader.STAGES, the one list) and a DOM helper.
(function () {
  "use strict";
  const tag = document.currentScript;
  window.DescentLoader = {
    siteRoot: new URL("../../", tag.src).href,  // this file is <root>/js/loader/common.js
    stages: JSON.parse(tag.dataset.stages || "[]"),  // [[key, label], ...] in boot order
    el(name, cls, text) {
      const e = document.createElement(name);
      if (cls) e.className = cls;
      if (text != null) e.textContent = text;
      return e;
    },
  };
})();
