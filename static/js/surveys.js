/* Survey forms: show a question only while its show-if condition is met (the server checks it too).
   A hidden question's inputs are disabled, so an answer given before it was hidden is not sent. */
(function () {
  "use strict";

  function chosen(container, name) {
    var codes = [];
    container.querySelectorAll('input[name="q_' + name + '"]').forEach(function (input) {
      if (!input.disabled && input.checked) codes.push(input.value);
    });
    return codes;
  }

  function update(container) {
    var shown = {};
    container.querySelectorAll("[data-question]").forEach(function (node) {
      var on = true;
      var controller = node.dataset.showIf;
      if (controller) {
        var wanted = (node.dataset.showIfIn || "").split(",");
        on = shown[controller] === true && chosen(container, controller).some(function (code) {
          return wanted.indexOf(code) >= 0;
        });
      }
      shown[node.dataset.question] = on;
      node.hidden = !on;
      node.querySelectorAll("input, textarea, select").forEach(function (input) { input.disabled = !on; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".survey-questions").forEach(function (container) {
      if (container.dataset.disabled === "1") return;
      container.addEventListener("change", function () { update(container); });
      update(container);
    });
  });
})();
