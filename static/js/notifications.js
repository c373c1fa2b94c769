// Live notifications: the htmx ws extension keeps the socket to /ws/notifications/ open (and reconnects);
// this turns each JSON message {"type", "text", "level"?, "url"?} into an entry of the polite live region.
// Messages that are not JSON are left to htmx, which swaps them in as HTML fragments.
(function () {
  "use strict";

  var LEVELS = ["info", "success", "warning", "error"];
  var MAX_SHOWN = 5;

  function levelOf(payload) {
    if (LEVELS.indexOf(payload.level) !== -1) {
      return payload.level;
    }
    if (LEVELS.indexOf(payload.type) !== -1) {
      return payload.type;
    }
    return "info";
  }

  // Only links back into this site: a notification must never send a user elsewhere.
  function isLocalPath(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" && url.charAt(1) !== "\\";
  }

  function render(area, payload) {
    var list = area.querySelector(".notifications__list");
    var level = levelOf(payload);
    var item = document.createElement("li");
    item.className = "notification notification--" + level;
    if (payload.type) {
      item.setAttribute("data-type", String(payload.type));
    }

    var label = document.createElement("strong");
    label.className = "notification__level";
    label.textContent = area.getAttribute("data-label-" + level) || "";
    item.appendChild(label);

    var text = document.createElement(isLocalPath(payload.url) ? "a" : "span");
    text.className = "notification__text";
    text.textContent = String(payload.text);
    if (text.tagName === "A") {
      text.setAttribute("href", payload.url);
    }
    item.appendChild(text);

    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "notification__dismiss";
    dismiss.setAttribute("aria-label", area.getAttribute("data-dismiss-label") || "×");
    dismiss.textContent = "×";
    dismiss.addEventListener("click", function () {
      item.remove();
    });
    item.appendChild(dismiss);

    list.appendChild(item);
    while (list.children.length > MAX_SHOWN) {
      list.removeChild(list.firstElementChild);
    }
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var area = event.target.closest(".notifications");
    if (!area) {
      return;
    }
    var payload;
    try {
      payload = JSON.parse(event.detail.message);
    } catch (error) {
      return;
    }
    if (!payload || typeof payload !== "object" || payload.text === undefined || payload.text === null) {
      return;
    }
    event.preventDefault();
    render(area, payload);
  });
})();
