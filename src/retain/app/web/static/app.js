// retain dashboard: progressive enhancement only; every page works without JavaScript.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Pickers marked data-autosubmit apply as soon as they change (the Apply button stays for
  // keyboard users who prefer it).
  for (const el of document.querySelectorAll("select[data-autosubmit]")) {
    el.addEventListener("change", () => el.form && el.form.requestSubmit());
  }
});
