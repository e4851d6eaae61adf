/* Co-handling network: departments on a circle, an edge per pair as wide as its joint tickets and
   coloured by its on-time rate (red 0 → green 1, grey when nothing was resolved), drawn from the
   canvas's data-graph JSON; and the sortable tables (th[data-sort], td[data-value]). */
(function () {
  "use strict";

  function colour(rate) {
    if (rate === null || rate === undefined) return "rgb(156, 163, 175)";
    var r = Math.round(220 * (1 - rate)), g = Math.round(38 + 125 * rate);
    return "rgb(" + r + ", " + g + ", 60)";
  }

  function pct(x) { return x === null || x === undefined ? "—" : Math.round(x * 100) + " %"; }

  function draw(canvas) {
    var data;
    try { data = JSON.parse(canvas.dataset.graph); } catch (e) { return; }
    var ctx = canvas.getContext("2d");
    var w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    ctx.font = "13px sans-serif";
    if (!data.nodes.length) {
      ctx.fillStyle = "#555";
      ctx.textAlign = "center";
      ctx.fillText(data.labels.empty, w / 2, h / 2);
      return;
    }
    var cx = w / 2, cy = h / 2, radius = Math.min(w, h) / 2 - 70;
    var at = {};
    data.nodes.forEach(function (node, i) {
      var angle = -Math.PI / 2 + (2 * Math.PI * i) / data.nodes.length;
      at[node.id] = { x: cx + radius * Math.cos(angle), y: cy + radius * Math.sin(angle), angle: angle };
    });
    var most = Math.max.apply(null, data.edges.map(function (e) { return e.joint; }).concat([1]));
    data.edges.forEach(function (edge) {
      var a = at[edge.a], b = at[edge.b];
      if (!a || !b) return;
      ctx.beginPath();
      ctx.moveTo(a.x, a.y);
      ctx.lineTo(b.x, b.y);
      ctx.lineWidth = 1 + 11 * (edge.joint / most);
      ctx.strokeStyle = colour(edge.onTime);
      ctx.globalAlpha = 0.8;
      ctx.stroke();
      ctx.globalAlpha = 1;
      ctx.fillStyle = "#111";
      ctx.textAlign = "center";
      ctx.fillText(String(edge.joint), (a.x + b.x) / 2, (a.y + b.y) / 2 - 4);
    });
    var biggest = Math.max.apply(null, data.nodes.map(function (n) { return n.joint; }).concat([1]));
    data.nodes.forEach(function (node) {
      var p = at[node.id], size = 6 + 10 * Math.sqrt(node.joint / biggest);
      ctx.beginPath();
      ctx.arc(p.x, p.y, size, 0, 2 * Math.PI);
      ctx.fillStyle = "rgb(37, 99, 235)";
      ctx.fill();
      ctx.fillStyle = "#111";
      ctx.textAlign = Math.cos(p.angle) > 0.3 ? "left" : Math.cos(p.angle) < -0.3 ? "right" : "center";
      var dx = Math.cos(p.angle) * (size + 6), dy = Math.sin(p.angle) * (size + 14);
      ctx.fillText(node.label + " (" + node.joint + ")", p.x + dx, p.y + dy + 4);
    });
    canvas.title = data.edges.map(function (e) {
      return e.a + "–" + e.b + ": " + data.labels.joint + " " + e.joint + ", " + data.labels.onTime + " " +
        pct(e.onTime) + ", " + data.labels.satisfaction + " " + pct(e.satisfaction);
    }).join("\n");
  }

  function sortable(table) {
    table.querySelectorAll("th[data-sort]").forEach(function (th) {
      th.style.cursor = "pointer";
      th.setAttribute("aria-sort", "none");
      th.addEventListener("click", function () {
        var index = Array.prototype.indexOf.call(th.parentNode.children, th);
        var numeric = th.dataset.sort === "number";
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("th[data-sort]").forEach(function (other) { other.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var c1 = r1.cells[index], c2 = r2.cells[index], x, y;
          if (numeric) {
            x = parseFloat(c1.dataset.value); y = parseFloat(c2.dataset.value);
          } else {
            x = c1.textContent.trim(); y = c2.textContent.trim();
          }
          var order = numeric ? x - y : x.localeCompare(y);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("network-graph");
    if (canvas) draw(canvas);
    document.querySelectorAll("table.sortable").forEach(sortable);
  });
})();
