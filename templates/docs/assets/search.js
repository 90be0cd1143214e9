// Client-side search over tables and columns. The index (assets/search-index.js) is a script, not
// fetched JSON, so search works from file:// as well as from `medallion docs --serve`. No libraries.
(function () {
  "use strict";
  var MAX_RESULTS = 20;
  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  var entries = window.MEDALLION_SEARCH || [];
  var root = document.body.getAttribute("data-root") || "";
  var selected = -1;

  // Every word of the query must occur in the entry; names that start with the query rank first.
  function score(entry, words, query) {
    var haystack = (entry.name + " " + entry.table + " " + entry.layer + " " + entry.text + " " +
                    (entry.tags || []).join(" ")).toLowerCase();
    for (var i = 0; i < words.length; i++) {
      if (haystack.indexOf(words[i]) < 0) { return -1; }
    }
    var name = entry.name.toLowerCase();
    var s = entry.kind === "table" ? 1 : 0;
    if (name === query) { s += 8; } else if (name.indexOf(query) === 0) { s += 4; } else if (name.indexOf(query) >= 0) { s += 2; }
    return s;
  }

  function search(query) {
    var words = query.split(/\s+/).filter(Boolean);
    var hits = [];
    entries.forEach(function (entry, order) {
      var s = score(entry, words, query);
      if (s >= 0) { hits.push({ entry: entry, score: s, order: order }); }
    });
    hits.sort(function (a, b) { return b.score - a.score || a.order - b.order; });
    return hits.slice(0, MAX_RESULTS).map(function (hit) { return hit.entry; });
  }

  function item(entry) {
    var li = document.createElement("li");
    li.setAttribute("role", "option");
    var a = document.createElement("a");
    a.href = root + entry.url;
    var kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = entry.kind === "table" ? entry.layer : "column";
    a.appendChild(kind);
    a.appendChild(document.createTextNode(entry.kind === "table" ? entry.name : entry.table + "." + entry.name));
    var hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = entry.text;
    a.appendChild(hint);
    li.appendChild(a);
    return li;
  }

  function select(index) {
    var items = list.querySelectorAll("li[role=option]");
    selected = items.length ? (index + items.length) % items.length : -1;
    items.forEach(function (li, i) { li.setAttribute("aria-selected", i === selected ? "true" : "false"); });
    if (selected >= 0) { items[selected].scrollIntoView({ block: "nearest" }); }
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    selected = -1;
  }

  function update() {
    var query = input.value.trim().toLowerCase();
    list.textContent = "";
    if (!query) { close(); return; }
    var hits = search(query);
    if (!hits.length) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "No table or column matches “" + input.value.trim() + "”.";
      list.appendChild(empty);
    }
    hits.forEach(function (entry) { list.appendChild(item(entry)); });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    select(0);
  }

  input.addEventListener("input", update);
  input.addEventListener("focus", function () { if (input.value.trim()) { update(); } });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { select(selected + 1); event.preventDefault(); }
    else if (event.key === "ArrowUp") { select(selected - 1); event.preventDefault(); }
    else if (event.key === "Escape") { input.value = ""; close(); }
    else if (event.key === "Enter") {
      var link = list.querySelector("li[aria-selected=true] a");
      if (link) { window.location.href = link.href; event.preventDefault(); }
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== input) { input.focus(); event.preventDefault(); }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest(".search")) { close(); }
  });
})();
