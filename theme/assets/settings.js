/* 阅读设置 and 长者模式: text size, colours, spacing, kept in localStorage. A classic
   script in <head>: the saved choice goes on <html> (data-text, data-theme, data-spacing;
   site.css does the rest) before the first paint; then the header controls are shown.
   Without it they stay hidden and the system preferences still apply through CSS. */
(function () {
  "use strict";
  var KEY = "gongkai-reading";
  var root = document.documentElement;
  var CHOICES = { text: ["100", "125", "150", "200"], theme: ["auto", "light", "dark", "hc"], spacing: ["normal", "wide"] };
  var DEFAULTS = { text: "100", theme: "auto", spacing: "normal" };
  var SENIOR = { text: "150", spacing: "wide" };
  var NAMES = { text: "文字大小", theme: "配色", spacing: "行距" };
  var state = {};

  function read() {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(KEY)); } catch (e) { /* storage off or file:// */ }
    for (var k in DEFAULTS) {
      state[k] = saved && CHOICES[k].indexOf(saved[k]) >= 0 ? saved[k] : DEFAULTS[k];
    }
  }

  function apply() {
    for (var k in DEFAULTS) {
      if (state[k] === DEFAULTS[k]) root.removeAttribute("data-" + k);
      else root.setAttribute("data-" + k, state[k]);
    }
  }

  read();
  apply();
  // The print date atop a printed page.
  addEventListener("beforeprint", function () {
    var d = document.getElementById("print-date");
    if (d) d.textContent = "　打印日期：" + new Date().toLocaleDateString("zh-CN", { dateStyle: "long" });
  });

  function ready() {
    var panel = document.getElementById("reading-settings");
    var toggle = document.getElementById("reading-toggle");
    var senior = document.getElementById("senior-mode");
    var status = document.getElementById("reading-status");
    if (!panel || !toggle || !senior || !status) return;
    var radios = panel.querySelectorAll("input[type=radio]");

    function isSenior() {
      return +state.text >= +SENIOR.text && state.spacing === SENIOR.spacing;
    }

    function sync() {
      for (var i = 0; i < radios.length; i++) radios[i].checked = state[radios[i].name] === radios[i].value;
      senior.setAttribute("aria-pressed", String(isSenior()));
    }

    function set(changes, message) {
      for (var k in changes) state[k] = changes[k];
      apply();
      sync();
      var kept = true;
      try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { kept = false; }
      status.textContent = message + (kept ? "。设置已保存。" : "。浏览器不允许保存设置，只对本页有效。");
    }

    function show(open) {
      panel.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
    }

    panel.addEventListener("change", function (event) {
      var input = event.target;
      if (!(input.name in DEFAULTS)) return;
      var change = {};
      change[input.name] = input.value;
      set(change, NAMES[input.name] + "：" + input.parentNode.textContent.trim());
    });
    panel.addEventListener("click", function (event) {
      var action = event.target.getAttribute("data-reading");
      if (action === "reset") set(DEFAULTS, "已恢复默认设置");
      if (action === "close") { show(false); toggle.focus(); }
    });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { show(false); toggle.focus(); }
    });
    toggle.addEventListener("click", function () { show(panel.hidden); });
    senior.addEventListener("click", function () {
      if (isSenior()) set({ text: DEFAULTS.text, spacing: DEFAULTS.spacing }, "已关闭长者模式");
      else set(SENIOR, "已开启长者模式：文字放大到 150%，行距加宽");
    });
    // Another tab changed the settings: follow it.
    window.addEventListener("storage", function (event) {
      if (event.key === KEY) { read(); apply(); sync(); }
    });

    sync();
    senior.hidden = false;
    toggle.hidden = false;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();

// Opened from a search result (#highlight=…): mark the match (docs/search.md).
if (location.hash.indexOf("#highlight=") === 0) import(new URL("search-mark.js", document.currentScript.src).href);
