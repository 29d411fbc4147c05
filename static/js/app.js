// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Move focus to the error summary so screen-reader and keyboard users land on the problem.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
  });

  // Row menus (<details>): one open at a time; Escape or a click elsewhere closes it.
  document.addEventListener("toggle", function (event) {
    var opened = event.target;
    if (!opened.classList || !opened.classList.contains("row-menu") || !opened.open) {
      return;
    }
    document.querySelectorAll("details.row-menu[open]").forEach(function (menu) {
      if (menu !== opened) {
        menu.open = false;
      }
    });
    var first = opened.querySelector(".menu a");
    if (first) {
      first.focus();
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    var open = document.querySelector("details.row-menu[open]");
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    }
  });

  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.row-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.open = false;
      }
    });
  });
})();

// CSV import progress: poll the status while the worker checks or applies the file (the page
// also refreshes itself every few seconds without JavaScript), then show the result.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || box.dataset.running !== "1") {
    return;
  }
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var bar = document.getElementById("import-bar");
        var percent = document.getElementById("import-percent");
        var label = document.getElementById("import-status");
        if (bar) { bar.value = data.percent; }
        if (percent) { percent.textContent = data.percent + "%"; }
        if (label) { label.textContent = data.status_label; }
        if (["checking", "queued", "running"].indexOf(data.status) < 0) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
})();

// User List bulk bar: "select all on this page" ticks every row's checkbox (without JavaScript
// the rows are ticked one by one, or "all matching" needs no ticks at all).
(function () {
  "use strict";
  var toggle = document.getElementById("bulk-select-page");
  if (!toggle) {
    return;
  }
  var boxes = document.querySelectorAll('input[type="checkbox"][name="ids"][form="bulk-form"]');
  if (!boxes.length) {
    return;
  }
  toggle.closest("label").hidden = false;
  toggle.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = toggle.checked; });
  });
  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      var ticked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
      toggle.checked = ticked === boxes.length;
      toggle.indeterminate = ticked > 0 && ticked < boxes.length;
    });
  });
})();
