// Keyboard shortcuts for the agent desktop. No inline script anywhere (CSP).
(function () {
  "use strict";

  function typingIn(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typingIn(event.target)) {
      if (event.key === "Escape") event.target.blur();
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
