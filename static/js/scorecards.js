/* Scorecard charts, drawn from each canvas's data-chart JSON (no inline scripts: CSP).
   <canvas data-chart-kind="bars|trend" data-chart='{...}'>. */
(function () {
  "use strict";

  function bars(canvas, data) {
    return new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: [{ label: data.series, data: data.scores, backgroundColor: "rgba(37, 99, 235, 0.6)" }] },
      options: {
        animation: false,
        responsive: true,
        aspectRatio: 3,
        scales: { y: { beginAtZero: true, max: 100 } },
        plugins: { legend: { display: false } }
      }
    });
  }

  function trend(canvas, data) {
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (s) { return { label: s.label, data: s.data, spanGaps: true, tension: 0.2 }; })
      },
      options: {
        animation: false,
        responsive: true,
        aspectRatio: 3,
        scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: data.yLabel } } }
      }
    });
  }

  function draw(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var data;
      try { data = JSON.parse(canvas.dataset.chart); } catch (e) { return; }
      var existing = Chart.getChart(canvas);
      if (existing) existing.destroy();
      if (canvas.dataset.chartKind === "trend") trend(canvas, data); else bars(canvas, data);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
    var period = document.getElementById("period-select");
    if (period && period.form) period.addEventListener("change", function () { period.form.submit(); });
  });
})();
