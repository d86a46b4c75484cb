// Refresh the page's <main> in place: the scroll position and the search box stay as they are.
// When a refresh fails, say so: what is on screen is as of the time in the page's footer.
(function () {
  var every = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!every) return;
  var banner = document.querySelector("p.offline");
  function failed() {
    if (!banner) return;
    var shown = document.querySelector("main .updated time");
    var when = shown ? shown.textContent : "";
    banner.textContent = (document.body.getAttribute("data-offline") || "").replace("{time}", when);
    banner.hidden = false;
  }
  setInterval(function () {
    if (document.hidden) return;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Refresh": "1" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("main");
        var old = document.querySelector("main");
        if (!fresh || !old) throw new Error("no <main> in the answer");
        // Groups the reader opened stay open.
        old.querySelectorAll("details[open][id]").forEach(function (d) {
          var same = fresh.querySelector("details#" + CSS.escape(d.id));
          if (same) same.open = true;
        });
        old.replaceWith(fresh);
        if (banner) banner.hidden = true;
      })
      .catch(failed);
  }, every * 1000);
})();
