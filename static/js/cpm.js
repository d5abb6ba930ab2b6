// Keyboard shortcuts for the agent desktop. No inline script anywhere (CSP).
(function () {
  "use strict";

  function typingIn(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  let pendingG = 0; // time of a lone "g", for the two-key shortcuts ("g n")

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
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
