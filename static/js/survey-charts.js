/* Survey analysis charts: drawn from each canvas's data-chart JSON, drawn again after a live refresh.
   <canvas data-chart-kind="distribution|means" data-chart='{...}'>; app.js's live regions dispatch
   "live:updated" once they have replaced their content. */
(function () {
  "use strict";
  var charts = [];
  var breakdown = null;

  function fmt(x) { return typeof x === "number" ? x.toFixed(2) : "—"; }

  function distribution(canvas, data) {
    var datasets = [{ type: "bar", label: data.series, data: data.counts, backgroundColor: "rgba(37, 99, 235, 0.6)" }];
    var note = data.mean === null || data.mean === undefined ? "" :
      data.meanLabel + " " + fmt(data.mean) + (data.ci ? " · " + data.ciLabel + " [" + fmt(data.ci[0]) + ", " + fmt(data.ci[1]) + "]" : "");
    return new Chart(canvas, {
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        aspectRatio: 3,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { display: false }, subtitle: { display: !!note, text: note } }
      }
    });
  }

  function means(canvas, data) {
    return new Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          { type: "bar", label: data.ciLabel, data: data.cis.map(function (ci, i) { return ci || [data.means[i], data.means[i]]; }),
            backgroundColor: "rgba(37, 99, 235, 0.25)", borderColor: "rgba(37, 99, 235, 0.8)", borderWidth: 1 },
          { type: "line", showLine: false, label: data.meanLabel, data: data.means,
            backgroundColor: "rgb(220, 38, 38)", borderColor: "rgb(220, 38, 38)", pointRadius: 5 }
        ]
      },
      options: {
        animation: false,
        responsive: true,
        aspectRatio: 3,
        plugins: { tooltip: { callbacks: { title: function (items) { return data.titles[items[0].dataIndex] || ""; } } } }
      }
    });
  }

  function draw(root) {
    if (typeof Chart === "undefined") return;
    charts = charts.filter(function (chart) {
      if (document.body.contains(chart.canvas)) return true;
      chart.destroy();  // its canvas was replaced by a refresh
      return false;
    });
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var data;
      try { data = JSON.parse(canvas.dataset.chart); } catch (e) { return; }
      var existing = Chart.getChart(canvas);
      if (existing) existing.destroy();
      charts.push(canvas.dataset.chartKind === "means" ? means(canvas, data) : distribution(canvas, data));
    });
  }

  function showBreakdown(root) {
    var select = root.querySelector("#breakdown-select") || document.getElementById("breakdown-select");
    if (!select) return;
    if (breakdown) select.value = breakdown;
    var apply = function () {
      breakdown = select.value;
      document.querySelectorAll("table[data-breakdown]").forEach(function (table) {
        table.hidden = table.dataset.breakdown !== breakdown;
      });
    };
    select.addEventListener("change", apply);
    apply();
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
    showBreakdown(document);
  });
  document.addEventListener("live:updated", function (event) {
    draw(event.target);
    showBreakdown(event.target);
  });
})();
