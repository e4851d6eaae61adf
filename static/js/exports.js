/* Research exports: the builder's dataset-dependent fields, and live progress over Socket.IO ("/exports").
   The job page (#export-job) watches its job; the list (#export-jobs) hears every job of the researcher
   (the namespace puts them in their own room at connect). When a job ends, the part of the page showing it
   is fetched again, so the download link, checksum and summary are rendered (and escaped) by the server.
   No inline scripts (CSP): labels come from <script type="application/json" id="export-labels">. */
(function () {
  "use strict";
  var TERMINAL = ["done", "failed", "expired"];
  var timers = {};

  function labels() {
    var node = document.getElementById("export-labels");
    try { return node ? JSON.parse(node.textContent) : {}; } catch (e) { return {}; }
  }

  function terminal(status) { return TERMINAL.indexOf(status) >= 0; }

  /* Fetch the page region `id` again from its data-refresh URL and put it in place. */
  function refresh(id) {
    clearTimeout(timers[id]);
    timers[id] = setTimeout(function () {
      var region = document.getElementById(id);
      if (!region || !region.dataset.refresh) return;
      fetch(region.dataset.refresh, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          var old = document.getElementById(id);
          if (html === null || !old) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(id);
          if (!fresh) return;
          old.replaceWith(fresh);
          fresh.classList.add("flash-update");
          document.dispatchEvent(new CustomEvent("exports:updated", { detail: { region: id } }));
        });
    }, 100);
  }

  /* Status badge, progress bar and "n of m rows" of one job inside `node`. */
  function show(node, data, L) {
    var pct = Math.floor(Math.max(0, Math.min(1, data.progress || 0)) * 100);
    node.querySelectorAll("progress[data-export-progress]").forEach(function (bar) {
      bar.value = pct;
      bar.setAttribute("aria-valuetext", pct + "%");
    });
    var total = data.rows_total === null || data.rows_total === undefined ? "?" : String(data.rows_total);
    var rows = (L.rows || "{done} / {total}").replace("{done}", String(data.rows_done || 0)).replace("{total}", total);
    node.querySelectorAll("[data-export-progress-text]").forEach(function (text) {
      text.textContent = pct + " % · " + rows;
    });
    node.querySelectorAll('[data-export-cell="status"]').forEach(function (cell) {
      var badge = document.createElement("span");
      badge.className = "badge " + ((L.classes || {})[data.status] || "");
      badge.dataset.exportStatus = data.status;
      badge.textContent = (L.status || {})[data.status] || data.status;
      cell.replaceChildren(badge);
    });
  }

  function update(node, data, L, region) {
    var before = node.dataset.status;
    show(node, data, L);
    node.dataset.status = data.status;
    if (terminal(data.status) && !terminal(before)) refresh(region);
  }

  function onProgress(data) {
    if (!data || typeof data.id !== "number" || typeof data.status !== "string") return;
    var L = labels();
    var page = document.getElementById("export-job");
    if (page && Number(page.dataset.exportJob) === data.id) update(page, data, L, "export-job");
    var list = document.getElementById("export-jobs");
    if (list) {
      var row = list.querySelector('tr[data-export-job="' + data.id + '"]');
      if (row) update(row, data, L, "export-jobs");
      else refresh("export-jobs"); // a job this page has not shown yet
    }
  }

  /* Events sent before the socket connected are lost: show the state as it is now, once. */
  function catchUp() {
    var page = document.getElementById("export-job");
    if (page && !terminal(page.dataset.status)) refresh("export-job");
    var list = document.getElementById("export-jobs");
    if (list && list.querySelector('tr[data-export-job]:not([data-status="done"]):not([data-status="failed"]):not([data-status="expired"])')) {
      refresh("export-jobs");
    }
  }

  function connect() {
    if (typeof io === "undefined") return;
    if (!document.getElementById("export-job") && !document.getElementById("export-jobs")) return;
    var socket = io("/exports", { transports: ["websocket", "polling"] });
    socket.on("connect", function () {
      var page = document.getElementById("export-job");
      if (page) {
        socket.emit("watch_job", { id: Number(page.dataset.exportJob) }, function (answer) {
          document.body.dataset.exportsLive = answer && answer.ok ? "watching" : "refused";
          catchUp();
        });
      } else {
        document.body.dataset.exportsLive = "connected";
        catchUp();
      }
    });
    socket.on("export.progress", onProgress);
  }

  /* Show only the builder's fields that apply to the chosen dataset (hidden ones are disabled: not sent). */
  function datasetFields() {
    var select = document.getElementById("export-dataset");
    if (!select) return;
    var toggle = function (node, on) {
      node.hidden = !on;
      node.style.display = on ? "" : "none";
      node.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !on; });
    };
    var sync = function () {
      document.querySelectorAll("[data-export-only]").forEach(function (node) {
        toggle(node, node.dataset.exportOnly === select.value);
      });
      document.querySelectorAll("[data-export-not]").forEach(function (node) {
        toggle(node, node.dataset.exportNot !== select.value);
      });
    };
    select.addEventListener("change", sync);
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    datasetFields();
    connect();
  });
})();
