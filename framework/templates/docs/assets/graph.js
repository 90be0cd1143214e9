// The lineage graph of the catalog (assets/catalog.js) and dbt's selection syntax over it. Shared by the
// lineage drawings (assets/lineage.js); plain JavaScript, no libraries.
//
// Nodes are landing folders (`landing-<n>`) and tables (by name); edges run from upstream to downstream.
// Selection, as in dbt:
//   `name`            the table            `+name` / `name+`   and everything upstream / downstream
//   `2+name+1`        at most 2 levels up and 1 down            `@name`   its downstreams and all their upstreams
//   `layer:gold`, `domain:team` (or `owner:`), `tag:x`          tables by layer, owning team or tag
//   `*`               any characters, in names and after `layer:` / `domain:` / `tag:`
//   `a b` / `a,b`     union / intersection
(function () {
  "use strict";
  var KIND = { streaming_table: "streaming table", materialized_view: "materialized view", view: "view" };

  // ---- the graph: landing folders and tables, edges from upstream to downstream ----------------------

  // `root` is the relative path from the page to the site's root, for links to table pages.
  function build(data, root) {
    var graph = { data: data, nodes: {}, ids: [], up: {}, down: {} };
    function add(node) {
      graph.nodes[node.id] = node;
      graph.ids.push(node.id);
      graph.up[node.id] = [];
      graph.down[node.id] = [];
    }
    function link(from, to) {
      graph.up[to].push(from);
      graph.down[from].push(to);
    }
    data.landings.forEach(function (l) {
      var slash = l.path.replace(/\/+$/, "").lastIndexOf("/");
      add({ id: l.id, stage: "landing", domain: l.domain, label: slash < 0 ? l.path : l.path.slice(slash + 1),
            sub: slash < 0 ? "landing folder" : l.path.slice(0, slash + 1), shape: "folder",
            title: "landing folder " + l.path + " (" + l.spec_path + " in the spec)" });
    });
    data.tables.forEach(function (t) {
      add({ id: t.name, stage: t.layer, domain: t.domain, label: t.name, sub: KIND[t.kind] || t.kind, table: t,
            title: t.name + " (" + t.layer + " " + (KIND[t.kind] || t.kind) + ", " + t.domain + "): " + t.summary,
            href: root + "tables/" + t.name + ".html" });
    });
    data.tables.forEach(function (t) {
      if (t.landing !== null) { link(data.landings[t.landing].id, t.name); }
      t.up.forEach(function (i) { link(data.tables[i].name, t.name); });
    });
    return graph;
  }

  // ---- selection (dbt syntax) -------------------------------------------------------------------------

  var ATOM = /^(@)?(?:(\d*)\+)?(.+?)(?:\+(\d*))?$/;
  var METHOD = /^(layer|domain|owner|tag):(.+)$/;

  function pattern(text) {
    var escaped = text.replace(/[.?^${}()|[\]\\\/]/g, "\\$&").replace(/\*/g, ".*");
    return new RegExp("^" + escaped + "$", "i");
  }

  function baseOf(graph, body) {
    var data = graph.data;
    var method = METHOD.exec(body);
    var test = pattern(method ? method[2] : body);
    return data.tables.filter(function (t) {
      if (!method) { return test.test(t.name); }
      if (method[1] === "layer") { return test.test(t.layer); }
      if (method[1] === "tag") { return t.tags.some(function (tag) { return test.test(tag); }); }
      return test.test(t.domain);
    }).map(function (t) { return t.name; });
  }

  // Everything reachable from `start` along `step` (graph.up or graph.down) within `depth` levels.
  function walk(start, step, depth) {
    var seen = {};
    var frontier = start.slice();
    start.forEach(function (id) { seen[id] = true; });
    for (var level = 0; level < depth && frontier.length; level++) {
      var next = [];
      frontier.forEach(function (id) {
        step[id].forEach(function (other) {
          if (!seen[other]) { seen[other] = true; next.push(other); }
        });
      });
      frontier = next;
    }
    return seen;
  }

  function levels(text) { return text === "" ? Infinity : parseInt(text, 10); }

  function merge(into, from) { Object.keys(from).forEach(function (id) { into[id] = true; }); return into; }

  function selectAtom(graph, atom) {
    var parts = ATOM.exec(atom);
    var base = parts ? baseOf(graph, parts[3]) : [];
    if (!base.length) { return { ids: {}, base: {}, error: "nothing matches “" + atom + "”" }; }
    var ids = merge({}, walk(base, graph.up, 0));
    var named = merge({}, ids);
    if (parts[1]) {
      var below = walk(base, graph.down, Infinity);
      merge(ids, below);
      merge(ids, walk(Object.keys(below), graph.up, Infinity));
    } else {
      if (parts[2] !== undefined) { merge(ids, walk(base, graph.up, levels(parts[2]))); }
      if (parts[4] !== undefined) { merge(ids, walk(base, graph.down, levels(parts[4]))); }
    }
    return { ids: ids, base: named, error: null };
  }

  // `a b,c`: the union of a and (b intersected with c). Returns {ids, base, errors}: `base` are the
  // tables the atoms name (drawn highlighted), `ids` everything selected, both as {id: true}.
  function select(graph, text) {
    var ids = {}, base = {};
    var errors = [];
    text.trim().split(/\s+/).filter(Boolean).forEach(function (term) {
      var found = null;
      term.split(",").filter(Boolean).forEach(function (atom) {
        var result = selectAtom(graph, atom);
        if (result.error) { errors.push(result.error); }
        merge(base, result.base);
        if (found === null) { found = result.ids; return; }
        Object.keys(found).forEach(function (id) { if (!result.ids[id]) { delete found[id]; } });
      });
      merge(ids, found || {});
    });
    Object.keys(base).forEach(function (id) { if (!ids[id]) { delete base[id]; } });
    return { ids: ids, base: base, errors: errors };
  }

  window.MedallionGraph = { build: build, select: select, walk: walk, merge: merge, levels: levels };
})();
