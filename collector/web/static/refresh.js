// Refresh the page's <main> in place: the scroll position and the search box stay as they are.
(function () {
  var every = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!every) return;
  setInterval(function () {
    if (document.hidden) return;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Refresh": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text) return;
        var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("main");
        var old = document.querySelector("main");
        if (!fresh || !old) return;
        // Groups the reader opened stay open.
        old.querySelectorAll("details[open][id]").forEach(function (d) {
          var same = fresh.querySelector("details#" + CSS.escape(d.id));
          if (same) same.open = true;
        });
        old.replaceWith(fresh);
      })
      .catch(function () {});
  }, every * 1000);
})();
