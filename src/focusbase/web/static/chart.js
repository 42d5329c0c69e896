// Draws each chart from its table twin (the table holds the chart's numbers) with uPlot.
// Without JavaScript the tables are the whole story; the charts are hidden from screen readers.
(function () {
  "use strict";
  var PALETTE_LIGHT = ["#0b57d0", "#c2410c", "#1e7a3c", "#8e24aa", "#b3261e", "#00838f", "#6d4c41", "#5f6368"];
  var PALETTE_DARK = ["#8ab4f8", "#fdba74", "#5cc27f", "#ce93d8", "#f28b82", "#80deea", "#bcaaa4", "#bdc1c6"];
  var charts = [];

  function dark() { return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches; }
  function token(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function day(text) { var p = text.split("-"); return Date.UTC(+p[0], +p[1] - 1, +p[2]) / 1000; }

  function read(table) {
    var heads = table.querySelectorAll("thead th[data-series]");
    var names = Array.prototype.map.call(heads, function (th) { return th.dataset.series; });
    var styles = Array.prototype.map.call(heads, function (th) { return th.dataset.style || ""; });
    var xs = [], ys = names.map(function () { return []; });
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (tr) {
      xs.push(day(tr.querySelector("[data-x]").dataset.x));
      Array.prototype.forEach.call(tr.querySelectorAll("td[data-value]"), function (td, i) {
        // An empty cell is a gap (no actual yet on a forecast day, no baseline yet), never a zero.
        ys[i].push(td.dataset.value === "" ? null : parseFloat(td.dataset.value));
      });
    });
    return { names: names, styles: styles, data: [xs].concat(ys) };
  }

  function draw(box) {
    var table = document.getElementById(box.dataset.chartFor);
    if (!table || !window.uPlot) { return; }
    var found = read(table);
    if (found.data[0].length === 0) { return; }
    var colours = dark() ? PALETTE_DARK : PALETTE_LIGHT;
    var fg = token("--fg"), line = token("--line");
    var label = table.dataset.unit || table.dataset.currency || "";
    var bars = box.dataset.kind === "bars" || found.data[0].length === 1;
    var axis = { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    var opts = {
      width: Math.max(280, box.clientWidth),
      height: window.innerWidth < 640 ? 220 : 280,
      scales: { x: { time: true } },
      axes: [
        Object.assign({}, axis),
        Object.assign({}, axis, { label: label, size: 70, values: function (u, vals) { return vals.map(function (v) { return v.toLocaleString(); }); } })
      ],
      legend: { live: true },
      series: [{ label: "Day" }].concat(found.names.map(function (name, i) {
        var style = found.styles[i];
        // A forecast continues the actual line (same colour, dashed); its band is grey, its area tinted.
        var c = style === "forecast" ? colours[0] : style.indexOf("band") === 0 ? colours[7] : colours[i % colours.length];
        var s = { label: name, stroke: c, width: 2, points: { show: found.data[0].length < 40 } };
        if (style === "dashed" || style === "forecast") { s.dash = [8, 5]; s.points = { show: false }; }
        if (style.indexOf("band") === 0) { s.width = 1; s.dash = [2, 3]; s.points = { show: false }; }
        if (style === "points") {
          // Marks, not a line: a larger hollow square on each day of the anomaly.
          s.stroke = colours[4]; s.paths = function () { return null; };
          s.points = { show: true, size: 11, width: 2, fill: "transparent", stroke: colours[4] };
        }
        if (bars && !style && uPlot.paths && uPlot.paths.bars) { s.paths = uPlot.paths.bars({ size: [0.6, 60] }); s.fill = c; }
        return s;
      }))
    };
    var upper = found.styles.indexOf("band-upper"), lower = found.styles.indexOf("band-lower");
    if (upper >= 0 && lower >= 0) {
      opts.bands = [{ series: [upper + 1, lower + 1], fill: dark() ? "rgba(253,186,116,0.18)" : "rgba(194,65,12,0.12)" }];
    }
    box.textContent = "";
    charts.push({ box: box, plot: new uPlot(opts, found.data, box) });
  }

  function drawAll() {
    charts.forEach(function (c) { c.plot.destroy(); });
    charts = [];
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart-for]"), draw);
  }

  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { charts.forEach(function (c) { c.plot.setSize({ width: Math.max(280, c.box.clientWidth), height: c.plot.height }); }); }, 150);
  });
  if (window.matchMedia) { window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", drawAll); }
  document.addEventListener("DOMContentLoaded", drawAll);
})();
