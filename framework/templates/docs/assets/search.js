// Client-side search over tables and columns, built from assets/catalog.js (a script, not fetched JSON,
// so search works from file:// as well as from `medallion docs --serve`). A query in dbt's selection
// syntax (`+name`, `name+`, `layer:gold`, ...) also offers to focus the overview's lineage graph on it.
// No libraries.
(function () {
  "use strict";
  var MAX_RESULTS = 20;
  var SELECTOR = /(^|\s)(@|\d*\+)\S|\S\+\d*(\s|$)|(^|\s|,)(layer|domain|owner|tag):\S/;
  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  var data = window.MEDALLION_CATALOG || { tables: [] };
  var root = document.body.getAttribute("data-root") || "";
  var entries = null;
  var selected = -1;

  // One entry per table and per column, with its lower-case text searched once (built on first use).
  function buildEntries() {
    var out = [];
    data.tables.forEach(function (t) {
      var page = "tables/" + t.name + ".html";
      var tags = t.tags.concat([t.domain]);
      out.push({ kind: "table", name: t.name, table: t.name, layer: t.layer, text: t.summary, url: page,
                 haystack: [t.name, t.name, t.layer, t.summary, tags.join(" ")].join(" ").toLowerCase() });
      t.columns.forEach(function (c) {
        var text = c[2] ? c[1] + " — " + c[2] : c[1];
        out.push({ kind: "column", name: c[0], table: t.name, layer: t.layer, text: text,
                   url: page + "#col-" + c[0],
                   haystack: [c[0], t.name, t.layer, text].join(" ").toLowerCase() });
      });
    });
    return out;
  }

  // Every word of the query must occur in the entry; names that start with the query rank first.
  function score(entry, words, query) {
    for (var i = 0; i < words.length; i++) {
      if (entry.haystack.indexOf(words[i]) < 0) { return -1; }
    }
    var name = entry.name.toLowerCase();
    var s = entry.kind === "table" ? 1 : 0;
    if (name === query) { s += 8; } else if (name.indexOf(query) === 0) { s += 4; } else if (name.indexOf(query) >= 0) { s += 2; }
    return s;
  }

  function search(query) {
    entries = entries || buildEntries();
    var words = query.split(/\s+/).filter(Boolean);
    var hits = [];
    entries.forEach(function (entry, order) {
      var s = score(entry, words, query);
      if (s >= 0) { hits.push({ entry: entry, score: s, order: order }); }
    });
    hits.sort(function (a, b) { return b.score - a.score || a.order - b.order; });
    return hits.slice(0, MAX_RESULTS).map(function (hit) { return hit.entry; });
  }

  // `+orders+ 2+daily_revenue` -> `orders daily_revenue`: the names a selection mentions, to search for as well.
  function namesIn(selection) {
    return selection.split(/[\s,]+/).map(function (atom) {
      return atom.replace(/^@/, "").replace(/^\d*\+/, "").replace(/\+\d*$/, "").replace(/^[a-z]+:/, "");
    }).filter(Boolean).join(" ");
  }

  function item(kind, label, hint, url) {
    var li = document.createElement("li");
    li.setAttribute("role", "option");
    var a = document.createElement("a");
    a.href = url;
    var badge = document.createElement("span");
    badge.className = "kind";
    badge.textContent = kind;
    a.appendChild(badge);
    a.appendChild(document.createTextNode(label));
    var line = document.createElement("span");
    line.className = "hint";
    line.textContent = hint;
    a.appendChild(line);
    li.appendChild(a);
    return li;
  }

  function entryItem(entry) {
    return item(entry.kind === "table" ? entry.layer : "column",
                entry.kind === "table" ? entry.name : entry.table + "." + entry.name, entry.text, root + entry.url);
  }

  function selectionItem(selection) {
    return item("lineage", selection, "Show the tables this selects in the overview's lineage graph",
                root + "index.html#select=" + encodeURIComponent(selection));
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
    var raw = input.value.trim();
    var query = raw.toLowerCase();
    list.textContent = "";
    if (!query) { close(); return; }
    var isSelection = SELECTOR.test(raw);
    var hits = search(isSelection ? namesIn(query) : query);
    if (isSelection) { list.appendChild(selectionItem(raw)); }
    if (!hits.length && !isSelection) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "No table or column matches “" + raw + "”.";
      list.appendChild(empty);
    }
    hits.forEach(function (entry) { list.appendChild(entryItem(entry)); });
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
      if (link) { close(); window.location.href = link.href; event.preventDefault(); }
    }
  });
  list.addEventListener("click", function () { close(); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== input &&
        !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) {
      input.focus();
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest(".search")) { close(); }
  });
})();
