// Keyboard navigation of the search page: "/" focuses the box; ↓/↑ move through the autocomplete suggestions
// (then Enter opens one, Esc closes the list) and, from the box or a result, through the results' links.
(function () {
  "use strict";

  function input() {
    return document.querySelector("[data-search-input]");
  }

  function suggestions() {
    var list = document.getElementById("search-suggestions");
    return list && !list.hidden ? Array.prototype.slice.call(list.querySelectorAll("[role=option]")) : [];
  }

  function resultLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-search-results] [data-search-link]"));
  }

  function move(items, step) {
    if (!items.length) {
      return false;
    }
    var index = items.indexOf(document.activeElement);
    var next = index === -1 ? (step > 0 ? 0 : items.length - 1) : index + step;
    if (next < 0 || next >= items.length) {
      if (next < 0 && input()) {
        input().focus();
      }
      return true;
    }
    items.forEach(function (item) {
      item.setAttribute("aria-selected", "false");
    });
    items[next].setAttribute("aria-selected", "true");
    items[next].focus();
    return true;
  }

  function closeSuggestions() {
    var list = document.getElementById("search-suggestions");
    if (list) {
      list.hidden = true;
    }
    if (input()) {
      input().setAttribute("aria-expanded", "false");
    }
  }

  document.addEventListener("keydown", function (event) {
    var box = input();
    if (!box) {
      return;
    }
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
    if (event.key === "/" && !typing) {
      event.preventDefault();
      box.focus();
      box.select();
      return;
    }
    if (event.key === "Escape") {
      closeSuggestions();
      box.focus();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") {
      return;
    }
    var step = event.key === "ArrowDown" ? 1 : -1;
    var options = suggestions();
    var inSuggestions = options.indexOf(document.activeElement) !== -1;
    if ((document.activeElement === box || inSuggestions) && options.length) {
      event.preventDefault();
      move(options, step);
      return;
    }
    var links = resultLinks();
    if (document.activeElement === box || links.indexOf(document.activeElement) !== -1) {
      event.preventDefault();
      move(links, step);
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "search-suggestions") {
      var box = input();
      var list = document.getElementById("search-suggestions");
      if (box && list) {
        box.setAttribute("aria-expanded", list.hidden ? "false" : "true");
      }
    }
  });

  document.addEventListener("submit", closeSuggestions);
})();
