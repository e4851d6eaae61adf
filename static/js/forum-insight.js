/* The insight section of a discussion (stances, the sentiment line, keywords): draws the sentiment line
   of <canvas data-chart-kind="sentiment" data-chart='{...}'>, and, on a page that follows the
   discussion live (forums.js sends "forum:comments-changed"), reads the section again from the server
   (?partial=insight) when comments are added, edited, hidden or restored. */
(function () {
  "use strict";

  function draw(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll('canvas[data-chart-kind="sentiment"]').forEach(function (canvas) {
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
  }

  var pending = null;
  function reload() {
    var section = document.getElementById("insight");
    if (!section) return;
    fetch(window.location.pathname + "?partial=insight", { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var holder = document.createElement("div");
        holder.innerHTML = html;  // the server's own template, escaped there
        var fresh = holder.querySelector("#insight");
        var current = document.getElementById("insight");
        if (!fresh || !current) return;
        if (typeof Chart !== "undefined") {
          current.querySelectorAll("canvas").forEach(function (canvas) {
            var chart = Chart.getChart(canvas);
            if (chart) chart.destroy();
          });
        }
        current.replaceWith(fresh);
        draw(fresh);
        fresh.dataset.updated = String(Date.now());
      })
      .catch(function () {});
  }

  draw(document);
  // Several changes in a moment (a burst of comments) are read once.
  document.addEventListener("forum:comments-changed", function () {
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () { pending = null; reload(); }, 400);
  });
})();
