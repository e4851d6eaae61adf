// Deadlines count down on the page and turn amber, then red, as their moments pass.
// Elements: <span class="deadline" data-due="ISO" data-amber="ISO">; live regions re-render them.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "zh";
  var format = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "always" }) : null;

  function relative(ms) {
    var minutes = Math.round(ms / 60000);
    var abs = Math.abs(minutes);
    if (!format) return minutes + " min";
    if (abs < 60) return format.format(minutes, "minute");
    if (abs < 48 * 60) return format.format(Math.round(minutes / 60), "hour");
    return format.format(Math.round(minutes / 1440), "day");
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".deadline[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) return;
      var amber = el.dataset.amber ? Date.parse(el.dataset.amber) : NaN;
      var state = now >= due ? "red" : !isNaN(amber) && now >= amber ? "amber" : "green";
      el.classList.remove("deadline-green", "deadline-amber", "deadline-red");
      el.classList.add("deadline-" + state);
      el.dataset.state = state;
      el.textContent = relative(due - now);
    });
  }

  tick();
  setInterval(tick, 1000);
})();
