// The graph view of an entity's page, drawn with vis-network (static/vendor/vis-network).
//
// The section [data-entity-graph] names the JSON address of the entity's neighbourhood; the page's labels (kinds
// of entities and relationships, messages) come in its language from the #entity-graph-labels JSON block. The
// data holds people by their masking tokens, and that is all this script ever shows.
//
// - the filters (relationship kinds, dates, depth) fetch the neighbourhood again;
// - a click on an entity fetches its direct links with the same filters and adds them to the drawing;
// - a double click opens the entity's page.
(function () {
  "use strict";

  // Colour and shape per entity kind; the shapes tell kinds apart without relying on colour. Box and ellipse hold
  // their label inside (light text), the other shapes have it underneath (dark text).
  var KIND_STYLES = {
    company: { shape: "box", color: "#1f5fa8", font: "#ffffff" },
    person: { shape: "ellipse", color: "#b35c00", font: "#ffffff" },
    broker: { shape: "diamond", color: "#6b3fa0", font: "#1f2933" },
    account: { shape: "square", color: "#2f7d32", font: "#1f2933" },
    phone: { shape: "triangle", color: "#8a6d00", font: "#1f2933" },
    address: { shape: "triangleDown", color: "#5a6676", font: "#1f2933" },
    vehicle: { shape: "star", color: "#a02040", font: "#1f2933" },
  };
  var DEFAULT_STYLE = { shape: "dot", color: "#5a6676", font: "#1f2933" };
  // Links that have no direction: drawn without arrows.
  var SYMMETRIC_KINDS = ["shares_address", "mentioned_with"];
  var LABEL_LENGTH = 32;
  var CANVAS_HEIGHT = "560px";

  function shorten(text) {
    return text.length > LABEL_LENGTH ? text.slice(0, LABEL_LENGTH - 1) + "…" : text;
  }

  function format(message, values) {
    return message.replace(/%\((\w+)\)s/g, function (_match, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function nodeItem(node, labels, centerId) {
    var style = KIND_STYLES[node.kind] || DEFAULT_STYLE;
    var kindLabel = labels.entityKinds[node.kind] || node.kind;
    var center = node.id === centerId;
    var title = [node.name, kindLabel + (node.country ? " · " + node.country : "")];
    return {
      id: node.id,
      label: shorten(node.name),
      // vis-network sets a string title as text, never as markup.
      title: title.join("\n"),
      shape: style.shape,
      color: { background: style.color, border: center ? "#111111" : style.color },
      borderWidth: center ? 4 : 1,
      font: { color: style.font, bold: center },
      value: Math.max(1, node.degree || 1),
      url: node.url,
      graphUrl: node.graph_url,
      name: node.name,
    };
  }

  function edgeItem(edge, labels) {
    var kindLabel = labels.relationshipKinds[edge.kind] || edge.kind;
    var period = [edge.first_date, edge.last_date].filter(Boolean).join(" – ");
    var title = [
      kindLabel,
      period,
      edge.record_count ? format(labels.messages.records, { count: edge.record_count }) : "",
      edge.amount_uah ? format(labels.messages.amount, { amount: edge.amount_uah }) : "",
    ];
    return {
      id: edge.id,
      from: edge.source,
      to: edge.target,
      label: kindLabel,
      title: title.filter(Boolean).join("\n"),
      arrows: SYMMETRIC_KINDS.indexOf(edge.kind) >= 0 ? "" : "to",
      value: Math.max(1, edge.record_count || 1),
    };
  }

  function filterQuery(form) {
    var params = new URLSearchParams();
    var boxes = form.querySelectorAll('input[name="kinds"]');
    var checked = Array.prototype.filter.call(boxes, function (box) {
      return box.checked;
    });
    // All kinds ticked is the same as no filter; none ticked is answered with an empty drawing, without a request.
    if (checked.length !== boxes.length) {
      params.set(
        "kinds",
        checked
          .map(function (box) {
            return box.value;
          })
          .join(",")
      );
    }
    ["from", "to"].forEach(function (name) {
      var value = form.elements[name].value;
      if (value) {
        params.set(name, value);
      }
    });
    return { params: params, nothingChecked: checked.length === 0, hops: form.elements.hops.value || "1" };
  }

  function bind(section) {
    var labelsElement = document.getElementById("entity-graph-labels");
    var canvas = section.querySelector("[data-graph-canvas]");
    var form = section.querySelector("[data-graph-filters]");
    var status = section.querySelector("[data-graph-status]");
    if (!labelsElement || !canvas || !form || !window.vis) {
      return;
    }
    var labels = JSON.parse(labelsElement.textContent);
    var centerId = Number(section.getAttribute("data-entity-id"));
    var nodes = new window.vis.DataSet();
    var edges = new window.vis.DataSet();
    var expanded = {};
    var generation = 0;
    var network = new window.vis.Network(
      canvas,
      { nodes: nodes, edges: edges },
      {
        height: CANVAS_HEIGHT,
        nodes: { scaling: { min: 10, max: 40 }, font: { size: 14 } },
        edges: {
          // Thicker for more records; the label keeps one size, or a busy link's label covers the drawing.
          scaling: { min: 1, max: 6, label: { enabled: false } },
          font: { size: 12, align: "middle", strokeWidth: 3 },
          smooth: { type: "continuous" },
          color: { color: "#8a94a3", highlight: "#1f2933" },
        },
        physics: {
          stabilization: { iterations: 200 },
          barnesHut: { gravitationalConstant: -6000, springLength: 180, avoidOverlap: 0.3 },
        },
        interaction: { hover: true, tooltipDelay: 150, navigationButtons: true, keyboard: { enabled: true, bindToWindow: false } },
      }
    );
    form.hidden = false;

    function say(message) {
      status.textContent = message;
    }

    function merge(data) {
      var added = data.nodes.filter(function (node) {
        return !nodes.get(node.id);
      });
      nodes.add(
        added.map(function (node) {
          return nodeItem(node, labels, centerId);
        })
      );
      edges.update(
        data.edges.map(function (edge) {
          return edgeItem(edge, labels);
        })
      );
      return added.length;
    }

    function fetchGraph(url, hops) {
      var query = filterQuery(form);
      query.params.set("hops", hops || query.hops);
      return fetch(url + "?" + query.params.toString(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) {
            throw new Error(body.detail || labels.messages.failed);
          }
          return body;
        });
      });
    }

    function load() {
      generation += 1;
      var current = generation;
      nodes.clear();
      edges.clear();
      expanded = {};
      if (filterQuery(form).nothingChecked) {
        say(labels.messages.empty);
        return;
      }
      say(labels.messages.loading);
      fetchGraph(section.getAttribute("data-graph-url"))
        .then(function (data) {
          if (current !== generation) {
            return;
          }
          merge(data);
          expanded[centerId] = true;
          if (!data.edges.length) {
            say(labels.messages.empty);
          } else {
            say(data.truncated ? labels.messages.truncated : "");
          }
          // Lay the new drawing out before showing it whole; expansions later grow it in place.
          network.once("stabilizationIterationsDone", function () {
            network.fit();
          });
          network.stabilize();
        })
        .catch(function (error) {
          if (current === generation) {
            say(error.message || labels.messages.failed);
          }
        });
    }

    function expand(nodeId) {
      var node = nodes.get(nodeId);
      if (!node || expanded[nodeId] || filterQuery(form).nothingChecked) {
        return;
      }
      expanded[nodeId] = true;
      var current = generation;
      fetchGraph(node.graphUrl, "1")
        .then(function (data) {
          if (current !== generation) {
            return;
          }
          var added = merge(data);
          var message = format(labels.messages.expanded, { name: node.name, count: added });
          say(data.truncated ? message + " " + labels.messages.truncated : message);
        })
        .catch(function (error) {
          expanded[nodeId] = false;
          say(error.message || labels.messages.failed);
        });
    }

    network.on("click", function (event) {
      if (event.nodes.length) {
        expand(event.nodes[0]);
      }
    });
    network.on("doubleClick", function (event) {
      var node = event.nodes.length ? nodes.get(event.nodes[0]) : null;
      if (node && node.url) {
        window.location.assign(node.url);
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      load();
    });
    form.addEventListener("change", load);
    load();
  }

  function bindAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-entity-graph]"), bind);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", bindAll);
  } else {
    bindAll();
  }
})();
