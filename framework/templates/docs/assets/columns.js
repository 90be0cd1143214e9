// Column lineage on a table page: for each column, the columns it is computed from and the columns
// computed from it, as links to their rows on their own pages (`tables/<name>.html#col-<column>`), so a
// trace across the pipeline is one click per step, offline. The data is the one step per column in
// assets/catalog.js ("table index.column"); readers are found by inverting it here. No libraries.
(function () {
  "use strict";
  var data = window.MEDALLION_CATALOG;
  var body = document.body;
  var current = body.getAttribute("data-table");
  var grid = document.querySelector("#columns table");
  if (!data || !current || !grid) return;
  var root = body.getAttribute("data-root") || "";
  var tables = data.tables;
  var here = -1;
  for (var i = 0; i < tables.length; i++) if (tables[i].name === current) { here = i; break; }
  if (here < 0) return;

  function split(ref) {
    var dot = ref.indexOf(".");
    return [parseInt(ref.slice(0, dot), 10), ref.slice(dot + 1)];
  }
  var readers = {};
  tables.forEach(function (table, index) {
    table.columns.forEach(function (column) {
      (column[3] || []).forEach(function (ref) {
        var source = split(ref);
        if (source[0] !== here) return;
        (readers[source[1]] = readers[source[1]] || []).push([index, column[0]]);
      });
    });
  });
  var own = {};
  tables[here].columns.forEach(function (column) { own[column[0]] = column[3] || []; });

  function link(index, column) {
    var a = document.createElement("a");
    a.href = root + "tables/" + encodeURIComponent(tables[index].name) + ".html#col-" + encodeURIComponent(column);
    a.className = "col-link";
    a.textContent = tables[index].name + "." + column;
    return a;
  }
  function cell(kind, pairs, empty, title) {
    var td = document.createElement("td");
    td.className = "col-" + kind;
    if (!pairs.length) {
      var span = document.createElement("span");
      span.className = "muted";
      span.textContent = empty;
      if (title) span.title = title;
      td.appendChild(span);
    }
    pairs.forEach(function (pair, n) {
      if (n) td.appendChild(document.createTextNode(", "));
      td.appendChild(link(pair[0], pair[1]));
    });
    return td;
  }
  var head = grid.querySelector("thead tr");
  ["Computed from", "Read by"].forEach(function (label) {
    var th = document.createElement("th");
    th.textContent = label;
    head.appendChild(th);
  });
  var table = tables[here];
  var origin = table.opaque ? "not traced" : table.landing !== null ? "landing files" : "—";
  grid.querySelectorAll("tbody tr[id^='col-']").forEach(function (row) {
    var name = row.id.slice(4);
    row.appendChild(cell("from", (own[name] || []).map(split), origin, table.opaque || ""));
    row.appendChild(cell("readers", readers[name] || [], "—", ""));
  });
  grid.setAttribute("data-lineage", "ready");
})();
