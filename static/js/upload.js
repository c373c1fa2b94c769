// Uploading a dataset and following it through the pipeline.
//
// 1. The drop zone: a file dropped on it goes into the form's ordinary file input (which works on its own, without
//    a mouse and without this script).
// 2. The upload: htmx sends the form in the background; its htmx:xhr:progress events move the upload bar.
// 3. The pipeline: the server answers with the progress panel ([data-dataset-progress]), which polls the server
//    every two seconds; the "dataset.progress" messages of the notification websocket move it at once in between,
//    and are kept out of the notification list, which is for events a person should not miss.
(function () {
  "use strict";

  var TERMINAL = ["ready", "failed", "needs_mapping"];

  // The units come from the page, in its language: "bytes|KB|MB|GB".
  function formatSize(bytes, unitNames) {
    var units = (unitNames || "B|KB|MB|GB").split("|");
    var size = bytes;
    var unit = 0;
    while (size >= 1024 && unit < units.length - 1) {
      size /= 1024;
      unit += 1;
    }
    return (unit === 0 ? String(size) : size.toFixed(1)) + " " + units[unit];
  }

  function bindDropzone(zone) {
    if (zone.hasAttribute("data-dropzone-bound")) {
      return;
    }
    zone.setAttribute("data-dropzone-bound", "");
    var input = zone.querySelector('input[type="file"]');
    var chosen = zone.querySelector("[data-dropzone-chosen]");
    if (!input) {
      return;
    }

    function showChosen() {
      if (chosen) {
        var units = zone.getAttribute("data-size-units");
        chosen.textContent = input.files.length ? input.files[0].name + " · " + formatSize(input.files[0].size, units) : "";
      }
    }

    input.addEventListener("change", showChosen);
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
        zone.classList.add("dropzone--active");
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        if (!zone.contains(event.relatedTarget)) {
          zone.classList.remove("dropzone--active");
        }
      });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dropzone--active");
      var files = event.dataTransfer.files;
      if (!files || !files.length) {
        return;
      }
      var transfer = new DataTransfer();
      transfer.items.add(files[0]);
      input.files = transfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
      input.focus();
    });
    showChosen();
  }

  function bindAll(root) {
    if (!root || !root.querySelectorAll) {
      return;
    }
    if (root.matches && root.matches("[data-dropzone]")) {
      bindDropzone(root);
    }
    root.querySelectorAll("[data-dropzone]").forEach(bindDropzone);
  }

  // The bar only moves forward: htmx also reports the download of the answer, which starts again from zero.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target.closest && event.target.closest("[data-upload-form]");
    if (!form || !event.detail.lengthComputable || !event.detail.total) {
      return;
    }
    var box = form.querySelector("[data-upload-progress]");
    var bar = box && box.querySelector("progress");
    if (!bar) {
      return;
    }
    box.hidden = false;
    var percent = Math.min(100, Math.floor((event.detail.loaded * 100) / event.detail.total));
    if (percent < bar.value) {
      return;
    }
    bar.value = percent;
    bar.textContent = percent + " %";
    var label = box.querySelector("[data-upload-percent]");
    if (label) {
      label.textContent = percent + " %";
    }
  });

  // The page's names of the pipeline's stages, in the page's language: {"detect": "Detecting format", …}.
  function stageLabel(panel, stage) {
    try {
      var labels = JSON.parse(panel.getAttribute("data-stage-labels") || "{}");
      return typeof labels[stage] === "string" ? labels[stage] : "";
    } catch (error) {
      return "";
    }
  }

  // A failed send leaves the form as it was, says so, and lets the person try again.
  function showSendError(event) {
    var form = event.target.closest && event.target.closest("[data-upload-form]");
    if (!form) {
      return;
    }
    var alert = form.querySelector("[data-upload-error]");
    var box = form.querySelector("[data-upload-progress]");
    if (alert) {
      alert.textContent = form.getAttribute("data-send-error") || "";
      alert.hidden = false;
    }
    if (box) {
      box.hidden = true;
      var bar = box.querySelector("progress");
      if (bar) {
        bar.value = 0;
      }
    }
  }

  document.addEventListener("htmx:sendError", showSendError);
  document.addEventListener("htmx:responseError", showSendError);

  function applyProgress(panel, payload) {
    var percent = Number(payload.percent);
    var bar = panel.querySelector("[data-progress-bar]");
    if (bar && isFinite(percent)) {
      bar.value = Math.max(0, Math.min(100, percent));
      bar.textContent = Math.round(bar.value) + " %";
      var percentLabel = panel.querySelector("[data-progress-percent]");
      if (percentLabel) {
        percentLabel.textContent = Math.round(bar.value) + " %";
      }
    }
    var stage = panel.querySelector("[data-progress-stage]");
    var label = stageLabel(panel, payload.stage);
    if (stage && label) {
      stage.textContent = label;
    }
    panel.querySelectorAll("[data-progress-count]").forEach(function (cell) {
      var value = payload[cell.getAttribute("data-progress-count")];
      if (typeof value === "number" && isFinite(value)) {
        cell.textContent = String(value);
      }
    });
    // The final state (report, mapping, error) is the server's to render: ask for the fragment now.
    if (TERMINAL.indexOf(payload.status) !== -1 && window.htmx) {
      window.htmx.trigger(panel, "dataset-progress-refresh");
    }
  }

  // Capturing on the document runs before notifications.js, which listens on the way back up.
  document.addEventListener(
    "htmx:wsBeforeMessage",
    function (event) {
      var payload;
      try {
        payload = JSON.parse(event.detail.message);
      } catch (error) {
        return;
      }
      if (!payload || payload.type !== "dataset.progress") {
        return;
      }
      var id = String(payload.dataset_id);
      document.querySelectorAll("[data-dataset-progress]").forEach(function (panel) {
        if (panel.getAttribute("data-dataset-progress") === id) {
          applyProgress(panel, payload);
        }
      });
      event.preventDefault();
      event.stopPropagation();
    },
    true
  );

  document.addEventListener("htmx:load", function (event) {
    bindAll(event.detail.elt);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      bindAll(document);
    });
  } else {
    bindAll(document);
  }
})();
