// The what-if simulator: the same arithmetic as apps.insights.views.whatif_compute, redone as the sliders move,
// and the validation curve drawn as an SVG line chart (no chart library, nothing loaded from elsewhere).
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var WIDTH = 640, HEIGHT = 320, LEFT = 48, BOTTOM = 32, TOP = 12, RIGHT = 12;

  function curveAt(curve, percent) {
    var points = [{ percent: 0, precision: curve.length ? curve[0].precision : 0, recall: 0, revenue: 0 }].concat(curve);
    percent = Math.min(Math.max(percent, 0), 100);
    for (var index = 1; index < points.length; index++) {
      if (points[index].percent >= percent) {
        var low = points[index - 1], high = points[index];
        var weight = (percent - low.percent) / ((high.percent - low.percent) || 1);
        return {
          precision: low.precision + weight * (high.precision - low.precision),
          recall: low.recall + weight * (high.recall - low.recall),
          revenue: low.revenue + weight * (high.revenue - low.revenue)
        };
      }
    }
    return points[points.length - 1];
  }

  function compute(data, rate) {
    var point = curveAt(data.curve, rate);
    var rows = Math.max(data.rows || 0, 1);
    var fraudShare = (data.frauds || 0) / rows;
    var revenuePerDeclaration = (data.revenue_total || 0) / rows;
    return {
      checks: Math.ceil(data.volume * rate / 100),
      precision: point.precision,
      frauds_caught: point.recall * fraudShare * data.volume,
      frauds_total: fraudShare * data.volume,
      revenue_recovered: point.revenue * revenuePerDeclaration * data.volume,
      revenue_total: revenuePerDeclaration * data.volume
    };
  }

  function format(value, digits) {
    return Number(value).toLocaleString(document.documentElement.lang || undefined, {
      minimumFractionDigits: digits, maximumFractionDigits: digits
    });
  }

  function element(name, attributes) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    return node;
  }

  function draw(svg, curve, rate) {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var maxPercent = 30;
    function x(percent) { return LEFT + (WIDTH - LEFT - RIGHT) * Math.min(percent, maxPercent) / maxPercent; }
    function y(share) { return HEIGHT - BOTTOM - (HEIGHT - BOTTOM - TOP) * share; }
    svg.appendChild(element("line", { x1: LEFT, y1: y(0), x2: WIDTH - RIGHT, y2: y(0), class: "whatif__axis" }));
    svg.appendChild(element("line", { x1: LEFT, y1: y(0), x2: LEFT, y2: TOP, class: "whatif__axis" }));
    [0, 0.25, 0.5, 0.75, 1].forEach(function (share) {
      var label = element("text", { x: LEFT - 6, y: y(share) + 4, "text-anchor": "end", class: "whatif__tick" });
      label.textContent = Math.round(share * 100) + "%";
      svg.appendChild(label);
    });
    [0, 5, 10, 15, 20, 25, 30].forEach(function (percent) {
      var label = element("text", { x: x(percent), y: HEIGHT - 10, "text-anchor": "middle", class: "whatif__tick" });
      label.textContent = percent + "%";
      svg.appendChild(label);
    });
    ["recall", "revenue"].forEach(function (key) {
      var path = curve.filter(function (point) { return point.percent <= maxPercent; }).map(function (point, index) {
        return (index ? "L" : "M") + x(point.percent).toFixed(1) + "," + y(point[key]).toFixed(1);
      }).join(" ");
      svg.appendChild(element("path", { d: "M" + x(0) + "," + y(0) + " " + path.replace(/^M/, "L"), class: "whatif__line whatif__line--" + key, fill: "none" }));
    });
    svg.appendChild(element("line", { x1: x(rate), y1: y(0), x2: x(rate), y2: TOP, class: "whatif__marker" }));
  }

  function detectorRow(row, data) {
    var name = row.getAttribute("data-detector");
    var counts = data.histogram[name];
    var input = row.querySelector("input[type=range]");
    var threshold = parseFloat(input.value);
    var first = Math.min(Math.floor(threshold * data.bins), data.bins);
    var total = 0, confirmed = 0, dismissed = 0;
    for (var index = first; index < data.bins; index++) {
      total += counts.total[index];
      confirmed += counts.confirmed[index];
      dismissed += counts.dismissed[index];
    }
    row.querySelector("output").textContent = format(threshold, 2);
    row.querySelector("[data-cell=anomalies]").textContent = format(total, 0);
    row.querySelector("[data-cell=confirmed]").textContent = format(confirmed, 0);
    row.querySelector("[data-cell=confirmed_share]").textContent = confirmed + dismissed ? format(confirmed / (confirmed + dismissed), 2) : "—";
  }

  function init() {
    var source = document.getElementById("whatif-data");
    var form = document.getElementById("whatif-form");
    if (!source || !form) { return; }
    var data = JSON.parse(source.textContent);
    var rateInput = document.getElementById("whatif-rate");
    var svg = document.getElementById("whatif-chart");

    function update() {
      var rate = parseFloat(rateInput.value);
      var result = compute(data, rate);
      document.getElementById("whatif-rate-value").textContent = format(rate, 1);
      form.querySelector("[data-figure=checks]").textContent = format(result.checks, 0);
      form.querySelector("[data-figure=precision]").textContent = format(result.precision, 3);
      form.querySelector("[data-figure=frauds_caught]").textContent = format(result.frauds_caught, 1);
      form.querySelector("[data-figure=frauds_total]").textContent = format(result.frauds_total, 1);
      form.querySelector("[data-figure=revenue_recovered]").textContent = format(result.revenue_recovered, 0);
      form.querySelector("[data-figure=revenue_total]").textContent = format(result.revenue_total, 0);
      draw(svg, data.curve, rate);
    }

    rateInput.addEventListener("input", update);
    form.querySelectorAll("tr[data-detector]").forEach(function (row) {
      row.querySelector("input[type=range]").addEventListener("input", function () { detectorRow(row, data); });
    });
    update();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
