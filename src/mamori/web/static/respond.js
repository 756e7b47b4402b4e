// Running SLA clocks on the incident list: re-count the minutes left every 30 seconds.
(function () {
  "use strict";
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".sla[data-state='running'][data-deadline]").forEach(function (el) {
      var deadline = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(deadline)) { return; }
      var minutes = Math.floor(Math.abs(deadline - now) / 60000);
      var over = deadline < now;
      var label = el.getAttribute(over ? "data-over" : "data-left") || "";
      var text = el.querySelector(".sla-text");
      if (text) { text.textContent = label.replace("{minutes}", String(minutes)); }
      el.classList.toggle("sla-breached", over);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 30000);
  });
})();
