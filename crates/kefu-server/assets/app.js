// kefu dashboard: small progressive enhancements. Every page works without
// this script; it only adds conveniences. No labels live here: texts come
// from data-* attributes the server fills from the message catalogues.
"use strict";

// 1. Record script errors, failed resources and blocked content, so that the
// browser tests can fail on them (window.__kefuErrors).
(function () {
  var errors = (window.__kefuErrors = []);
  window.addEventListener(
    "error",
    function (e) {
      var t = e.target;
      if (t && t !== window && (t.src || t.href)) {
        errors.push("resource failed: " + (t.src || t.href));
      } else {
        errors.push("error: " + (e.message || String(e)));
      }
    },
    true
  );
  window.addEventListener("unhandledrejection", function (e) {
    errors.push("unhandled rejection: " + String(e.reason));
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    errors.push("csp: " + e.violatedDirective + " " + e.blockedURI);
  });
  var original = console.error;
  console.error = function () {
    errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
})();

function kefuFormat(template, a, b) {
  return template.replace("{0}", String(a)).replace("{1}", String(b));
}

// 2. SLA countdowns: <span class="countdown" data-due="ms" data-left="…{0}…{1}…"
// data-late="…{0}…{1}…"> shows hours and minutes left, or overdue.
function kefuCountdowns() {
  var now = Date.now();
  document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
    var due = Number(el.getAttribute("data-due"));
    if (!isFinite(due)) return;
    var diff = due - now;
    var minutes = Math.floor(Math.abs(diff) / 60000);
    var template = el.getAttribute(diff >= 0 ? "data-left" : "data-late") || "";
    el.textContent = kefuFormat(template, Math.floor(minutes / 60), minutes % 60);
    el.classList.toggle("late", diff < 0);
  });
}

// 3. Findings: following a link to a highlight flashes it.
function kefuFlash(hash) {
  if (!hash || hash.length < 2) return;
  var anchor = document.getElementById(hash.slice(1));
  if (!anchor) return;
  var mark = anchor.nextElementSibling;
  if (mark && mark.tagName === "MARK") {
    mark.classList.remove("flash");
    void mark.offsetWidth;
    mark.classList.add("flash");
  }
}

// 4. Pack editor: "line N" selects that line in the text area.
function kefuGotoLine(textarea, line) {
  var lines = textarea.value.split("\n");
  var start = 0;
  for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  var end = start + (lines[line - 1] || "").length;
  textarea.focus();
  textarea.setSelectionRange(start, end);
  var lineHeight = textarea.scrollHeight / Math.max(lines.length, 1);
  textarea.scrollTop = Math.max(0, (line - 5) * lineHeight);
}

document.addEventListener("DOMContentLoaded", function () {
  kefuCountdowns();
  if (document.querySelector(".countdown[data-due]")) {
    window.setInterval(kefuCountdowns, 30000);
  }
  kefuFlash(window.location.hash);
  window.addEventListener("hashchange", function () {
    kefuFlash(window.location.hash);
  });
  var source = document.getElementById("source");
  document.querySelectorAll(".goto-line[data-line]").forEach(function (a) {
    a.addEventListener("click", function (e) {
      if (!source) return;
      e.preventDefault();
      kefuGotoLine(source, Number(a.getAttribute("data-line")) || 1);
    });
  });
  // 5. Forms with data-confirm ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
  // 6. Avoid double submits.
  document.querySelectorAll("form[method=post]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (e.defaultPrevented) return;
      if (f.dataset.sent === "1") {
        e.preventDefault();
        return;
      }
      f.dataset.sent = "1";
    });
  });
});
