// Keyboard shortcuts for the agent desktop. No inline script anywhere (CSP).
(function () {
  "use strict";

  function typingIn(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  // Arrow keys walk the search results (from the search field too); Enter opens one.
  function moveInResults(event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return false;
    const links = Array.from(document.querySelectorAll("[data-results] a"));
    if (!links.length) return false;
    const at = links.indexOf(document.activeElement);
    const next = event.key === "ArrowDown" ? Math.min(at + 1, links.length - 1) : at - 1;
    if (next < 0 && at < 0) return false;
    event.preventDefault();
    (next < 0 ? document.getElementById("global-search") : links[next]).focus();
    return true;
  }
  let pendingG = 0; // time of a lone "g", for the two-key shortcuts ("g n")

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (moveInResults(event)) return;
    if (typingIn(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "g") {
      pendingG = Date.now();
      return;
    }
    const afterG = Date.now() - pendingG < 1000;
    pendingG = 0;
    if (afterG && event.key === "n") {
      const next = document.getElementById("get-next-case");
      if (next) {
        event.preventDefault();
        next.click();
      }
      return;
    }
    if (event.key === "/") {
      const search = document.getElementById("global-search");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    }
  });
})();

// Guided steps: Alt+Right submits ("next"), Alt+Left goes back; the time spent on a step
// is sent with it.
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    const name = event.key === "ArrowRight" ? "next" : "back";
    const button = document.querySelector('.step-form [data-shortcut="' + name + '"]');
    if (button) {
      event.preventDefault();
      button.click();
    }
  });

  function stampStart(root) {
    root.querySelectorAll(".step-form").forEach(function (form) {
      if (!form.dataset.started) form.dataset.started = String(Date.now());
    });
  }

  document.addEventListener("DOMContentLoaded", function () { stampStart(document); });
  document.addEventListener("htmx:load", function (event) { stampStart(event.detail.elt); });
  document.addEventListener("htmx:configRequest", function (event) {
    const form = event.detail.elt.closest && event.detail.elt.closest(".step-form");
    if (form && form.dataset.started) {
      event.detail.parameters.seconds = String(
        Math.round((Date.now() - Number(form.dataset.started)) / 1000)
      );
    }
  });
})();
