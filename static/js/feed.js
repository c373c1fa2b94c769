// The anomaly feed's live updates: the page's notification socket (/ws/notifications/, one group per
// organisation) announces each new anomaly as {"type": "anomaly.new", "anomaly": id}; the feed then asks the
// server for the items newer than the newest it shows, with its filters, and puts them at the top. The socket
// carries no anomaly content, so what appears is what the server lets this user see through the same filters.
(function () {
  "use strict";

  var pending = false;

  function newestShown(list) {
    var newest = parseInt(list.getAttribute("data-newest"), 10) || 0;
    list.querySelectorAll("[data-anomaly]").forEach(function (item) {
      var id = parseInt(item.getAttribute("data-anomaly"), 10);
      if (id > newest) {
        newest = id;
      }
    });
    return newest;
  }

  function refresh() {
    var list = document.getElementById("feed-list");
    if (!list || pending || typeof htmx === "undefined") {
      return;
    }
    pending = true;
    var url = list.getAttribute("data-new-url") + newestShown(list);
    htmx.ajax("GET", url, { target: "#feed-list", swap: "afterbegin" }).then(function () {
      pending = false;
      list.setAttribute("data-newest", String(newestShown(list)));
      var empty = document.querySelector(".feed__empty");
      if (empty && list.querySelector("[data-anomaly]")) {
        empty.remove();
      }
    }, function () {
      pending = false;
    });
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var payload;
    try {
      payload = JSON.parse(event.detail.message);
    } catch (error) {
      return;
    }
    if (payload && typeof payload.type === "string" && payload.type.indexOf("anomaly.") === 0) {
      refresh();
    }
  });
})();
