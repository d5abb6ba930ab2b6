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

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (moveInResults(event)) return;
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
