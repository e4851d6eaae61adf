/* The sentiment line of a discussion's insight section: <canvas data-chart-kind="sentiment" data-chart='{...}'>. */
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  document.querySelectorAll('canvas[data-chart-kind="sentiment"]').forEach(function (canvas) {
    var data;
    try { data = JSON.parse(canvas.dataset.chart); } catch (e) { return; }
    new Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: [{ label: data.label, data: data.means, borderColor: "rgb(37, 99, 235)", tension: 0.2 }] },
      options: {
        animation: false,
        responsive: true,
        aspectRatio: 4,
        scales: { y: { min: -1, max: 1 } },
        plugins: { legend: { display: false } }
      }
    });
  });
})();
