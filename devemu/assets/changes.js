// The changes page keeps its list current: it waits for a delivery to arrive, then
// reads the page again and puts its fresh list in place. The server renders and
// escapes everything; nothing here builds markup from data.
(function () {
  "use strict";
  var list = document.getElementById("changes");
  if (!list || !window.fetch || !window.DOMParser) {
    return;
  }
  var version = list.getAttribute("data-version");
  function pause(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }
  function refresh() {
    return fetch("/dev/changes", { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("changes");
        if (fresh) {
          document.getElementById("changes").replaceWith(document.importNode(fresh, true));
          version = fresh.getAttribute("data-version");
        }
      });
  }
  function wait() {
    fetch("/dev/changes/wait?version=" + encodeURIComponent(version), { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("wait answered " + r.status); }
        return r.json();
      })
      .then(function (j) {
        return String(j.version) !== version ? refresh() : null;
      })
      .then(wait, function () { pause(2000).then(wait); });
  }
  wait();
})();
