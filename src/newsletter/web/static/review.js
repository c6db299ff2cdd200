// Review page: preview width switch and live per-platform counters (no framework).
// The counts shown while typing follow each platform's rules; the server's count
// (/api/social-length, the same code that checks the draft) replaces them a moment later.
(function () {
  "use strict";

  function setupPreview() {
    var frame = document.getElementById("preview-frame");
    if (!frame) return;
    var buttons = document.querySelectorAll("[data-preview-width]");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        frame.setAttribute("width", button.getAttribute("data-preview-width"));
        frame.style.width = button.getAttribute("data-preview-width") + "px";
        buttons.forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
      });
    });
  }

  var URL_RE = /\bhttps?:\/\/[^\s]+/gi;
  var segmenter = (typeof Intl !== "undefined" && Intl.Segmenter) ? new Intl.Segmenter("fr", { granularity: "grapheme" }) : null;

  function graphemes(text) {
    if (!segmenter) return Array.from(text);
    return Array.from(segmenter.segment(text), function (s) { return s.segment; });
  }

  // twitter-text v3 weighting: these ranges weigh 100, everything else 200, an emoji 200; scale 100; URL 23.
  var LIGHT = [[0, 4351], [8192, 8205], [8208, 8223], [8242, 8247]];
  function xWeight(text) {
    var weight = 0;
    graphemes(text).forEach(function (g) {
      if (/\p{Extended_Pictographic}/u.test(g)) { weight += 200; return; }
      Array.from(g).forEach(function (ch) {
        var cp = ch.codePointAt(0);
        var light = LIGHT.some(function (r) { return cp >= r[0] && cp <= r[1]; });
        weight += light ? 100 : 200;
      });
    });
    return weight / 100;
  }

  function withUrls(text, countRest) {
    var length = 0, last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      length += countRest(text.slice(last, m.index)) + 23;
      last = m.index + m[0].length;
    }
    return length + countRest(text.slice(last));
  }

  function localLength(text, platform) {
    text = text.normalize("NFC");
    if (platform === "x") return withUrls(text, xWeight);
    if (platform === "mastodon") return withUrls(text, function (t) { return Array.from(t).length; });
    if (platform === "bluesky") return graphemes(text).length;
    return text.length; // LinkedIn: UTF-16 code units
  }

  function show(area, counter, length) {
    var limit = parseInt(area.getAttribute("data-limit"), 10);
    var over = length > limit;
    counter.querySelector(".count").textContent = String(length);
    counter.querySelector(".over-msg").textContent = over ? " — trop long de " + (length - limit) : "";
    counter.classList.toggle("over", over);
    area.classList.toggle("over", over);
    var form = area.closest("form");
    if (form) form.classList.toggle("over", over);
  }

  function setupCounters() {
    var tokenMeta = document.querySelector('meta[name="csrf-token"]');
    var token = tokenMeta ? tokenMeta.getAttribute("content") : "";
    document.querySelectorAll("textarea[data-platform]").forEach(function (area) {
      var counter = document.getElementById(area.getAttribute("aria-describedby"));
      if (!counter) return;
      var timer = null, seq = 0;
      area.addEventListener("input", function () {
        var platform = area.getAttribute("data-platform");  // the add form's channel can change
        show(area, counter, localLength(area.value, platform));
        clearTimeout(timer);
        var mine = ++seq;
        timer = setTimeout(function () {
          fetch("/api/social-length", {
            method: "POST",
            headers: { "Content-Type": "application/json", "x-csrftoken": token },
            body: JSON.stringify({ platform: platform, text: area.value }),
            credentials: "same-origin"
          }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
            if (data && mine === seq) show(area, counter, data.length);
          }).catch(function () { /* the local count stays */ });
        }, 250);
      });
    });
  }

  // The plan's "Ajouter un post" form: the text is prefilled with the chosen item's draft for the
  // chosen channel (unless the officer has typed her own), and the counter follows the channel.
  function setupPlanAdd() {
    var form = document.getElementById("plan-add-form");
    var data = document.getElementById("plan-add-texts");
    if (!form || !data) return;
    var texts = {};
    try { texts = JSON.parse(data.textContent); } catch (e) { return; }
    var channel = form.querySelector("#add-channel"), item = form.querySelector("#add-item");
    var area = form.querySelector("#add-text");
    var counter = document.getElementById(area.getAttribute("aria-describedby"));
    var proposal = "";  // the text last put in the box: replaced on a new choice; her own text is kept
    function update() {
      var option = channel.options[channel.selectedIndex];
      area.setAttribute("data-platform", channel.value);
      area.setAttribute("data-limit", option.getAttribute("data-limit"));
      var label = counter.querySelector(".count").nextSibling;
      if (label) label.nodeValue = " / " + option.getAttribute("data-limit") + " caractères";
      if (area.value === "" || area.value === proposal) {
        proposal = (texts[item.value] || {})[channel.value] || "";
        area.value = proposal;
      }
      area.dispatchEvent(new Event("input"));
    }
    channel.addEventListener("change", update);
    item.addEventListener("change", update);
    if (item.value) update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupPreview();
    setupCounters();
    setupPlanAdd();
  });
})();
