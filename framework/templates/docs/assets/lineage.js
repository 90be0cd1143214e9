// The lineage graphs, drawn in the browser as plain SVG (no libraries, no network) from the graph that
// assets/graph.js builds out of assets/catalog.js:
//
// - the overview (index.html): every table, or, in a large catalog, one box per layer and domain (the
//   owning team) with its count that opens into its tables on click;
// - a table's neighbourhood (tables/<name>.html): N levels up and down, N chosen in the page;
// - a selection in dbt's syntax (assets/graph.js) from the toolbar, the search box or the URL
//   (`index.html#select=+orders`).
//
// Layout: a band per stage (landing | bronze | silver | gold | checks); inside a band one column per
// dependency depth; rows ordered by the barycenter heuristic (each node near the mean position of its
// neighbours, a few sweeps left and right) and aligned vertically with their neighbours. That is what
// Graphviz's `dot` does for a layered graph, reduced to what a lineage needs, and fast enough for a
// thousand nodes in the browser.
(function () {
  "use strict";
  var data = window.MEDALLION_CATALOG;
  var model = window.MedallionGraph;
  var figure = document.getElementById("lineage-graph");
  if (!data || !model || !figure) { return; }
  var walk = model.walk, merge = model.merge, levels = model.levels, select = model.select;

  var NS = "http://www.w3.org/2000/svg";
  var STAGES = ["landing"].concat(data.layers, ["checks"]);
  var LEVELS = ["1", "2", "3", "4", "5", "all"], DEFAULT_LEVELS = "2";  // a table page's neighbourhood
  var FLAT_LIMIT = 150;        // a selection of more tables than this is shown grouped by layer and domain
  var FONT = "Helvetica, Arial, sans-serif";
  var NODE_H = 34, GROUP_H = 40, COMPACT_H = 24, ROW_GAP = 10, BLOCK_GAP = 18, FRAME_HEAD = 20;
  var COLUMN_GAP = 38, BAND_PAD = 12, BAND_GAP = 18, TOP = 30, BOTTOM = 12, CHECKS_LANE = 20;
  var SHRINK_TO = 0.7;         // a graph wider than its frame is scaled down to fit, to this factor at most
  var MIN_W = 96, MAX_W = 300;
  var root = document.body.getAttribute("data-root") || "";
  var tools = document.getElementById("lineage-tools");
  var status = document.getElementById("lineage-status");

  // ---- what to draw: nodes (tables, landing folders or groups of them) and aggregated edges ------------

  function groupId(stage, domain) { return "group-" + (stage + "-" + domain).replace(/[^A-Za-z0-9_-]/g, "_"); }
  function groupKey(stage, domain) { return stage + "/" + domain; }

  // The nodes and edges to draw for `members` ({id: true}): each member itself, or, when `grouped`, the
  // box of its layer and domain unless that group is `open`. Edges between the same two boxes are merged
  // and counted.
  function project(graph, members, grouped, open) {
    var view = { nodes: [], edges: [], groups: 0 };
    var shownAs = {}, boxes = {}, seen = {};
    graph.ids.forEach(function (id) {
      if (!members[id]) { return; }
      var node = graph.nodes[id];
      var key = groupKey(node.stage, node.domain);
      if (grouped && !seen[key]) { seen[key] = true; view.groups++; }
      if (!grouped || open[key]) {
        shownAs[id] = id;
        view.nodes.push(Object.assign({}, node, { block: grouped ? key : null }));
        return;
      }
      if (!boxes[key]) {
        boxes[key] = { id: groupId(node.stage, node.domain), stage: node.stage, domain: node.domain,
                       label: node.domain, count: 0, group: key, shape: "group" };
        view.nodes.push(boxes[key]);
      }
      boxes[key].count++;
      shownAs[id] = boxes[key].id;
    });
    Object.keys(boxes).forEach(function (key) {
      var box = boxes[key];
      var noun = (box.stage === "landing" ? "landing folder" : "table") + (box.count === 1 ? "" : "s");
      var count = box.count.toLocaleString("en-US") + " " + noun;
      box.sub = count + "  ▸";
      box.title = box.stage + ": " + count + " owned by " + box.domain + " (click to open)";
    });
    var counts = {};
    graph.ids.forEach(function (id) {
      if (!members[id]) { return; }
      graph.up[id].forEach(function (from) {
        if (!members[from] || shownAs[from] === shownAs[id]) { return; }
        var key = shownAs[from] + "\n" + shownAs[id];
        counts[key] = (counts[key] || 0) + 1;
      });
    });
    Object.keys(counts).forEach(function (key) {
      var ends = key.split("\n");
      view.edges.push({ from: ends[0], to: ends[1], count: counts[key] });
    });
    return view;
  }

  // ---- layout -----------------------------------------------------------------------------------------

  var measure = document.createElement("canvas").getContext("2d");

  function textWidth(text, font) {
    measure.font = font;
    return measure.measureText(text).width;
  }

  function fit(text, font, width) {
    if (textWidth(text, font) <= width) { return text; }
    var low = 0, high = text.length;
    while (low < high) {
      var mid = (low + high + 1) >> 1;
      if (textWidth(text.slice(0, mid) + "…", font) <= width) { low = mid; } else { high = mid - 1; }
    }
    return text.slice(0, low) + "…";
  }

  // Tables inside an open group are drawn on one line (their kind is in the tooltip): a group of a
  // hundred tables stays a column one can scroll through.
  function size(node) {
    if (node.block) { node.sub = ""; }
    var label = textWidth(node.label, "bold 12px " + FONT);
    var sub = textWidth(node.sub || "", "10px " + FONT);
    node.w = Math.min(MAX_W, Math.max(MIN_W, Math.ceil(Math.max(label, sub)) + 26));
    node.h = node.shape === "group" ? GROUP_H : node.block ? COMPACT_H : NODE_H;
    node.shownLabel = fit(node.label, "bold 12px " + FONT, node.w - 20);
  }

  // Depth of each node among the nodes of its own stage (longest path along edges inside the stage).
  function depths(members) {
    var inside = {}, waiting = {}, queue = [];
    members.forEach(function (n) { inside[n.id] = true; n.depth = 0; });
    members.forEach(function (n) {
      waiting[n.id] = n.preds.filter(function (p) { return inside[p.id]; }).length;
      if (!waiting[n.id]) { queue.push(n); }
    });
    for (var i = 0; i < queue.length; i++) {
      queue[i].succs.forEach(function (s) {
        if (!inside[s.id]) { return; }
        s.depth = Math.max(s.depth, queue[i].depth + 1);
        if (--waiting[s.id] === 0) { queue.push(s); }
      });
    }
    // Nodes on a cycle (possible between groups, never between tables) keep the depth reached so far.
  }

  function byLabel(a, b) {
    return a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : a.label < b.label ? -1 : a.label > b.label ? 1 : 0;
  }

  function mean(values) {
    var sum = 0;
    values.forEach(function (v) { sum += v; });
    return sum / values.length;
  }

  // Order one column by the mean position of each node's neighbours in other columns; an open group's
  // tables stay together (a block), ordered among themselves the same way.
  function orderColumn(column, neighbours) {
    column.forEach(function (n, i) {
      var positions = neighbours(n).filter(function (m) { return m.rank !== n.rank; })
        .map(function (m) { return m.pos; });
      n.key = positions.length ? mean(positions) : n.pos;
      n.index = i;
    });
    var blocks = {};
    column.forEach(function (n) { (blocks[n.block || n.id] = blocks[n.block || n.id] || []).push(n); });
    Object.keys(blocks).forEach(function (b) {
      var key = mean(blocks[b].map(function (n) { return n.key; }));
      blocks[b].forEach(function (n) { n.blockKey = key; });
    });
    column.sort(function (a, b) {
      return a.blockKey - b.blockKey || (a.block || a.id).localeCompare(b.block || b.id) ||
        a.key - b.key || a.index - b.index;
    });
    column.forEach(function (n, i) { n.pos = (i + 0.5) / column.length; });
  }

  function gapAbove(column, i) {
    if (i === 0) { return column[0].block ? FRAME_HEAD : 0; }
    var same = column[i].block && column[i].block === column[i - 1].block;
    return same ? ROW_GAP / 2 : BLOCK_GAP + (column[i].block ? FRAME_HEAD : 0);
  }

  // Consecutive nodes of one open group: they move together so that their frame stays tight.
  function units(column) {
    var out = [];
    column.forEach(function (n, i) {
      if (i && n.block && n.block === column[i - 1].block) { out[out.length - 1].push(n); } else { out.push([n]); }
    });
    return out;
  }

  // Place a column's nodes as near as possible to the mean height of their neighbours without overlap.
  function alignColumn(column, neighbours) {
    var desired = column.map(function (n) {
      var others = neighbours(n).filter(function (m) { return m.rank !== n.rank; });
      return others.length ? mean(others.map(function (m) { return m.y + m.h / 2; })) - n.h / 2 : n.y;
    });
    var bottom = -Infinity, i = 0, moves = [];
    units(column).forEach(function (unit) {
      var offsets = [], offset = 0;
      unit.forEach(function (n, k) {
        if (k) { offset += unit[k - 1].h + gapAbove(column, i + k); }
        offsets.push(offset);
      });
      var want = mean(unit.map(function (n, k) { return desired[i + k] - offsets[k]; }));
      var top = Math.max(want, bottom + gapAbove(column, i));
      unit.forEach(function (n, k) {
        n.y = top + offsets[k];
        moves.push(desired[i + k] - n.y);
      });
      bottom = unit[unit.length - 1].y + unit[unit.length - 1].h;
      i += unit.length;
    });
    var shift = mean(moves);
    column.forEach(function (n) { n.y += shift; });
  }

  // A node fed by one node only sits level with it when there is room: straight edges read best.
  function straighten(columns) {
    columns.forEach(function (column) {
      column.forEach(function (n, i) {
        var from = n.preds.filter(function (m) { return m.rank < n.rank; });
        if (from.length !== 1 || n.block) { return; }
        var y = from[0].y + from[0].h / 2 - n.h / 2;
        var above = i ? column[i - 1].y + column[i - 1].h + gapAbove(column, i) : -Infinity;
        var below = i < column.length - 1 ? column[i + 1].y - gapAbove(column, i + 1) - n.h : Infinity;
        if (y >= above && y <= below) { n.y = y; }
      });
    });
  }

  function span(nodes) {
    var top = Infinity, bottom = -Infinity;
    nodes.forEach(function (n) { if (!n.pinBottom) { top = Math.min(top, n.y); bottom = Math.max(bottom, n.y + n.h); } });
    return bottom - top;
  }

  // Aligning rows with their neighbours spreads large graphs over far more height than their tallest
  // column needs (every conflict pushes rows down); they are stacked and centred instead, in the same order.
  function centerColumns(columns, tallest) {
    columns.forEach(function (column) {
      var shift = (tallest - stack(column)) / 2;
      column.forEach(function (n) { n.y += shift; });
    });
  }

  function stack(column) {
    var bottom = 0;
    column.forEach(function (n, i) { n.y = bottom + gapAbove(column, i); bottom = n.y + n.h; });
    return bottom;
  }

  // One column per dependency depth inside each stage's band; returns the columns and the bands.
  function assignColumns(nodes) {
    var columns = [], bands = [];
    STAGES.forEach(function (stage) {
      var members = nodes.filter(function (n) { return n.stage === stage; });
      if (!members.length) { return; }
      depths(members);
      var first = columns.length, deepest = 0;
      members.forEach(function (n) { deepest = Math.max(deepest, n.depth); });
      for (var d = 0; d <= deepest; d++) { columns.push([]); }
      members.sort(byLabel).forEach(function (n) {
        n.rank = first + n.depth;
        columns[n.rank].push(n);
      });
      bands.push({ stage: stage, first: first, last: first + deepest });
    });
    return { columns: columns, bands: bands };
  }

  function preds(n) { return n.preds; }
  function succs(n) { return n.succs; }
  function both(n) { return n.preds.concat(n.succs); }

  // The order of the rows in every column: barycenter sweeps, left to right then right to left.
  function orderRows(columns) {
    columns.forEach(function (column) { column.forEach(function (n, i) { n.pos = (i + 0.5) / column.length; }); });
    for (var sweep = 0; sweep < 4; sweep++) {
      columns.forEach(function (column) { orderColumn(column, preds); });
      columns.slice().reverse().forEach(function (column) { orderColumn(column, succs); });
    }
  }

  // The height of every row: aligned with its neighbours, or stacked when aligning would spread it out.
  function placeRows(nodes, columns) {
    var tallest = 0;
    columns.forEach(function (column) { tallest = Math.max(tallest, stack(column)); });
    for (var pass = 0; pass < 4; pass++) {
      var last = pass === 3;
      columns.forEach(function (column) { alignColumn(column, last ? both : preds); });
      columns.slice().reverse().forEach(function (column) { alignColumn(column, last ? both : succs); });
    }
    if (span(nodes) > tallest * 1.25 + 120) { centerColumns(columns, tallest); } else { straighten(columns); }
    var top = Infinity, bottom = -Infinity;
    nodes.forEach(function (n) {
      if (n.pinBottom) { return; }
      top = Math.min(top, n.y - (n.block ? FRAME_HEAD : 0));
      bottom = Math.max(bottom, n.y + n.h);
    });
    nodes.forEach(function (n) { n.y = Math.round(n.y - top + TOP); });
    return pinToBottom(nodes, Math.round(bottom - top + TOP));
  }

  // The x of every column, each as wide as its widest node; returns the total width.
  function placeColumns(columns, bands) {
    var x = 12;
    bands.forEach(function (band) {
      band.x = x;
      x += BAND_PAD;
      for (var r = band.first; r <= band.last; r++) {
        var width = Math.max.apply(null, columns[r].map(function (n) { return n.w; }));
        columns[r].forEach(function (n) { n.x = Math.round(x + (width - n.w) / 2); });
        x += width + (r < band.last ? COLUMN_GAP : 0);
      }
      x += BAND_PAD;
      band.w = x - band.x;
      x += BAND_GAP;
    });
    return Math.max(x - BAND_GAP + 12, 200);
  }

  function layout(view) {
    var byId = {};
    view.nodes.forEach(function (n) { byId[n.id] = n; n.preds = []; n.succs = []; size(n); });
    view.edges.forEach(function (e) {
      e.source = byId[e.from];
      e.target = byId[e.to];
      e.source.succs.push(e.target);
      e.target.preds.push(e.source);
    });
    var grid = assignColumns(view.nodes);
    orderRows(grid.columns);
    var bottom = placeRows(view.nodes, grid.columns);
    view.columns = grid.columns;
    view.bands = grid.bands;
    view.width = placeColumns(grid.columns, grid.bands);
    view.height = bottom + BOTTOM + (view.checks ? CHECKS_LANE : 0);
    return view;
  }

  // The checks job comes after everything: its nodes sit at the bottom of their band, stacked upwards.
  function pinToBottom(nodes, bottom) {
    var pinned = nodes.filter(function (n) { return n.pinBottom; });
    var height = 0;
    pinned.forEach(function (n) { height += n.h + BLOCK_GAP; });
    bottom = Math.max(bottom, TOP + height - BLOCK_GAP);
    var y = bottom + BLOCK_GAP;
    pinned.slice().reverse().forEach(function (n) {
      y -= n.h + BLOCK_GAP;
      n.y = y;
    });
    return bottom;
  }

  // ---- drawing ----------------------------------------------------------------------------------------

  function svg(tag, attributes, parent) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function text(parent, content, attributes) {
    var node = svg("text", attributes, parent);
    node.textContent = content;
    return node;
  }

  function shape(g, n) {
    if (n.shape === "folder") {
      svg("path", { class: "shape", d: "M0.5 " + (n.h - 0.5) + "V4.5h" + (n.w - 34) + "l3 -4h29v" + (n.h - 1) +
        "z" }, g);
    } else if (n.shape === "cylinder") {
      var rx = (n.w - 1) / 2;
      svg("path", { class: "shape", d: "M0.5 6a" + rx + " 5 0 0 0 " + (n.w - 1) + " 0a" + rx + " 5 0 0 0 -" + (n.w - 1) +
        " 0v" + (n.h - 12) + "a" + rx + " 5 0 0 0 " + (n.w - 1) + " 0v-" + (n.h - 12) }, g);
    } else if (n.shape === "group") {
      svg("rect", { class: "shape stack", x: 5.5, y: -4.5, width: n.w - 1, height: n.h - 1, rx: 5 }, g);
      svg("rect", { class: "shape stack", x: 3, y: -2, width: n.w - 1, height: n.h - 1, rx: 5 }, g);
      svg("rect", { class: "shape", x: 0.5, y: 0.5, width: n.w - 1, height: n.h - 1, rx: 5 }, g);
    } else {
      svg("rect", { class: "shape", x: 0.5, y: 0.5, width: n.w - 1, height: n.h - 1, rx: 10 }, g);
    }
  }

  function badge(g, n, count, side) {
    var label = "+" + count;
    var w = Math.max(18, textWidth(label, "10px " + FONT) + 8);
    var x = side === "up" ? -6 : n.w - w + 6;
    var b = svg("g", { class: "more", transform: "translate(" + x + ",-9)" }, g);
    svg("title", {}, b).textContent = count + (side === "up" ? " more upstream" : " more downstream") +
      " (show more levels to see them)";
    svg("rect", { width: w, height: 16, rx: 8 }, b);
    text(b, label, { x: w / 2, y: 11.5, "text-anchor": "middle" });
  }

  function drawNode(layer, n, onGroup) {
    var classes = "node stage-" + n.stage + (n.group ? " group" : "") + (n.current ? " current" : "");
    var g = svg("g", { class: classes, id: "node-" + n.id, transform: "translate(" + n.x + "," + n.y + ")",
                       "data-id": n.id }, layer);
    if (n.group) { g.setAttribute("data-group", n.group); }
    var target = g;
    if (n.href) {
      target = svg("a", { href: n.href }, g);
    } else if (n.group) {
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-label", n.title);
      g.addEventListener("click", function () { onGroup(n.group); });
      g.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { onGroup(n.group); event.preventDefault(); }
      });
    }
    svg("title", {}, target).textContent = n.title;
    shape(target, n);
    var single = !n.sub;
    text(target, n.shownLabel, { class: "label", x: n.w / 2, y: single ? n.h / 2 + 4 : n.h / 2 - 2,
                                 "text-anchor": "middle" });
    if (!single) { text(target, n.sub, { class: "sub", x: n.w / 2, y: n.h / 2 + 11, "text-anchor": "middle" }); }
    if (n.moreUp) { badge(g, n, n.moreUp, "up"); }
    if (n.moreDown) { badge(g, n, n.moreDown, "down"); }
    return g;
  }

  function edgePath(a, b) {
    var x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
    if (x2 > x1) {
      var dx = Math.max(24, (x2 - x1) / 2);
      return "M" + x1 + " " + y1 + "C" + (x1 + dx) + " " + y1 + " " + (x2 - dx) + " " + y2 + " " + (x2 - 1) + " " + y2;
    }
    var loop = 40;  // same column or backwards (a cycle between groups): around the right side
    return "M" + x1 + " " + y1 + "C" + (x1 + loop) + " " + y1 + " " + (b.x + b.w + loop) + " " + y2 + " " +
      (b.x + b.w + 1) + " " + y2;
  }

  function nameOf(node) { return node.group || node.label; }

  function drawEdges(layer, view) {
    view.edges.forEach(function (e) {
      var width = e.count > 1 ? Math.min(1.2 + Math.log(e.count) / Math.LN2 * 0.8, 6) : 1.2;
      var path = svg("path", { class: "edge" + (e.dashed ? " dashed" : ""), d: edgePath(e.source, e.target),
                               "stroke-width": width.toFixed(1), "marker-end": "url(#lineage-arrow)",
                               "data-from": e.from, "data-to": e.to }, layer);
      svg("title", {}, path).textContent = e.count > 1
        ? e.count.toLocaleString("en-US") + " dependencies: " + nameOf(e.source) + " → " + nameOf(e.target)
        : nameOf(e.source) + " → " + nameOf(e.target);
    });
  }

  function drawBands(layer, view) {
    view.bands.forEach(function (band) {
      var g = svg("g", { class: "band stage-" + band.stage, id: "band-" + band.stage }, layer);
      svg("rect", { x: band.x + 0.5, y: 6.5, width: band.w - 1, height: view.height - 12, rx: 4 }, g);
      var label = band.stage === "landing" ? "landing" : band.stage;
      text(g, label, { class: "band-label", x: band.x + band.w / 2, y: 22, "text-anchor": "middle" });
    });
  }

  // A frame around each open group's tables in each column, titled with the domain; its title closes it.
  function drawFrames(layer, view, onGroup) {
    view.columns.forEach(function (column) {
      var blocks = {};
      column.forEach(function (n) { if (n.block) { (blocks[n.block] = blocks[n.block] || []).push(n); } });
      Object.keys(blocks).forEach(function (key) {
        var members = blocks[key];
        var x = Math.min.apply(null, members.map(function (n) { return n.x; })) - 6;
        var right = Math.max.apply(null, members.map(function (n) { return n.x + n.w; })) + 6;
        var y = members[0].y - FRAME_HEAD + 2;
        var bottom = members[members.length - 1].y + members[members.length - 1].h + 6;
        var g = svg("g", { class: "frame", role: "button", tabindex: "0", "data-group": key }, layer);
        svg("title", {}, g).textContent = key + ": " + members.length + " shown (click the title to close the group)";
        svg("rect", { x: x + 0.5, y: y + 0.5, width: right - x, height: bottom - y, rx: 6 }, g);
        text(g, fit(members[0].domain, "11px " + FONT, right - x - 24) + "  ▾", { x: x + 8, y: y + 13 });
        g.addEventListener("click", function () { onGroup(key); });
        g.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") { onGroup(key); event.preventDefault(); }
        });
      });
    });
  }

  // The checks job reads every silver and gold table: one dashed line per layer band, along the bottom.
  function drawChecks(layer, view) {
    var checks = view.nodes.filter(function (n) { return n.id === "checks"; })[0];
    var log = view.nodes.filter(function (n) { return n.id === "event-log"; })[0];
    if (!checks) { return; }
    var lane = view.height - BOTTOM - CHECKS_LANE / 2;
    view.bands.forEach(function (band) {
      if (band.stage !== "silver" && band.stage !== "gold") { return; }
      var x1 = band.x + band.w - BAND_PAD, x2 = checks.x, y2 = checks.y + checks.h / 2;
      var path = svg("path", { class: "edge dashed", "marker-end": "url(#lineage-arrow)",
        d: "M" + x1 + " " + lane + "H" + (x2 - 40) + "C" + (x2 - 14) + " " + lane + " " + (x2 - 24) + " " + y2 +
          " " + (x2 - 1) + " " + y2 }, layer);
      svg("title", {}, path).textContent = "the quality checks read every " + band.stage + " table";
    });
    if (log) {
      var edge = svg("path", { class: "edge dashed", "marker-end": "url(#lineage-arrow)",
        d: "M" + (log.x + log.w / 2) + " " + (log.y + log.h) + "V" + (checks.y - 1) }, layer);
      svg("title", {}, edge).textContent = "the quality checks read the event log";
    }
  }

  function draw(view, onGroup) {
    var box = svg("svg", { class: "lineage-svg", width: view.width, height: view.height,
                           viewBox: "0 0 " + view.width + " " + view.height, role: "img",
                           "aria-label": "Lineage graph" });
    var defs = svg("defs", {}, box);
    var marker = svg("marker", { id: "lineage-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8,
                                 markerHeight: 8, markerUnits: "userSpaceOnUse", orient: "auto" }, defs);
    svg("path", { d: "M0 1L10 5L0 9z", class: "arrow" }, marker);
    drawBands(svg("g", { class: "bands" }, box), view);
    drawFrames(svg("g", { class: "frames" }, box), view, onGroup);
    var edges = svg("g", { class: "edges" }, box);
    drawEdges(edges, view);
    drawChecks(edges, view);
    var nodes = svg("g", { class: "nodes" }, box);
    view.nodes.forEach(function (n) { drawNode(nodes, n, onGroup); });
    highlightOnHover(box);
    figure.textContent = "";
    figure.appendChild(box);
    var room = figure.clientWidth - 18;
    if (view.width > room && room / view.width >= SHRINK_TO) {
      box.setAttribute("width", room);
      box.setAttribute("height", Math.round(view.height * room / view.width));
    }
  }

  // Hovering a node brings out its edges and dims the rest.
  function highlightOnHover(box) {
    box.addEventListener("mouseover", function (event) {
      var node = event.target.closest && event.target.closest("g.node");
      if (!node) { return; }
      var id = node.getAttribute("data-id");
      box.classList.add("hovering");
      box.querySelectorAll("path.edge").forEach(function (edge) {
        var on = edge.getAttribute("data-from") === id || edge.getAttribute("data-to") === id;
        edge.classList.toggle("lit", on);
      });
    });
    box.addEventListener("mouseout", function (event) {
      if (event.relatedTarget && event.relatedTarget.closest && event.relatedTarget.closest("g.node")) { return; }
      box.classList.remove("hovering");
    });
  }

  // ---- the two pages ----------------------------------------------------------------------------------

  var graph = model.build(data, root);

  function tableCount(ids) {
    var n = 0;
    Object.keys(ids).forEach(function (id) { if (graph.nodes[id].table) { n++; } });
    return n;
  }

  function say(message, isError) {
    if (!status) { return; }
    status.textContent = message;
    status.classList.toggle("error", !!isError);
  }

  function ready() {
    figure.setAttribute("data-state", "ready");
    if (!window.MEDALLION_LINEAGE_READY) { window.MEDALLION_LINEAGE_READY = performance.now(); }
  }

  function count(n) { return n.toLocaleString("en-US"); }

  // The checks job after gold, which reads every silver and gold table (drawn by drawChecks) and the event log.
  function addChecks(view) {
    view.checks = true;
    view.nodes.push({ id: "event-log", stage: "checks", domain: "", label: "event log", sub: "", shape: "cylinder",
                      pinBottom: true, title: data.event_log + ": flow progress and expectation results of every run" });
    view.nodes.push({ id: "checks", stage: "checks", domain: "", label: "quality checks", sub: "", pinBottom: true,
                      href: root + "quality.html", title: "the checks job: freshness, completeness, duplicates, " +
                      "reconciliation and expectation pass rates" });
  }

  function overview() {
    var input = document.getElementById("lineage-select");
    var open = {};
    var all = {};
    graph.ids.forEach(function (id) { all[id] = true; });
    var total = data.tables.length;

    // Open or close a group, then bring what replaced it into view inside the scrolling frame.
    function toggle(key) {
      open[key] = !open[key];
      render();
      var shown = figure.querySelector((open[key] ? ".frame" : ".node") + "[data-group=\"" + CSS.escape(key) + "\"]");
      if (shown) {
        var box = shown.getBoundingClientRect(), frame = figure.getBoundingClientRect();
        figure.scrollTop += box.top - frame.top - 24;
        figure.scrollLeft += Math.min(0, box.left - frame.left - 24) + Math.max(0, box.right - frame.right + 24);
        shown.focus({ preventScroll: true });
      }
    }

    function render() {
      var text = input.value.trim();
      var members = all, grouped = data.grouped, errors = [], named = {};
      if (text) {
        var result = select(graph, text);
        members = result.ids;
        errors = result.errors;
        named = result.base;
        grouped = tableCount(members) > FLAT_LIMIT;
      }
      var view = project(graph, members, grouped, open);
      view.nodes.forEach(function (n) { n.current = !!named[n.id]; });
      if (!text) { addChecks(view); }
      draw(layout(view), toggle);
      tools.querySelectorAll("[data-grouped-only]").forEach(function (b) { b.hidden = !grouped; });
      var shown = tableCount(members);
      var message = (text ? count(shown) + " of " + count(total) + " tables selected" : count(total) + " tables") +
        (grouped ? " in " + view.groups + " groups by layer and domain" : "");
      say(errors.length ? errors.join("; ") + (shown ? " (" + message + ")" : "") : message, errors.length > 0);
    }

    function fromHash() {
      var match = /^#select=(.*)$/.exec(window.location.hash);
      if (!match) { return false; }
      try { input.value = decodeURIComponent(match[1]); } catch (malformed) { input.value = match[1]; }
      return true;
    }

    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var value = input.value.trim();
        history.replaceState(null, "", value ? "#select=" + encodeURIComponent(value) : window.location.pathname);
        render();
      }, 150);
    });
    window.addEventListener("hashchange", function () {
      if (fromHash()) {
        render();
        document.getElementById("lineage-section").scrollIntoView();
      }
    });
    document.getElementById("lineage-reset").addEventListener("click", function () {
      input.value = "";
      open = {};
      history.replaceState(null, "", window.location.pathname);
      render();
    });
    document.getElementById("lineage-open").addEventListener("click", function () {
      graph.ids.forEach(function (id) { open[groupKey(graph.nodes[id].stage, graph.nodes[id].domain)] = true; });
      render();
    });
    document.getElementById("lineage-close").addEventListener("click", function () { open = {}; render(); });
    var selected = fromHash();
    tools.hidden = false;
    render();
    if (selected) { document.getElementById("lineage-section").scrollIntoView(); }
  }

  function neighbourhood() {
    var focus = figure.getAttribute("data-focus");
    var up = document.getElementById("lineage-up");
    var down = document.getElementById("lineage-down");
    var STORE = "medallion-lineage-levels";
    [up, down].forEach(function (control) {
      LEVELS.forEach(function (n) { control.appendChild(new Option(n, n, n === DEFAULT_LEVELS, n === DEFAULT_LEVELS)); });
    });
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORE) || "null");
      if (saved && LEVELS.indexOf(saved.up) >= 0 && LEVELS.indexOf(saved.down) >= 0) {
        up.value = saved.up;
        down.value = saved.down;
      }
    } catch (ignored) { /* file:// pages may have no storage: keep the defaults */ }

    function render() {
      var members = merge(walk([focus], graph.up, levels(up.value === "all" ? "" : up.value)),
                          walk([focus], graph.down, levels(down.value === "all" ? "" : down.value)));
      var view = project(graph, members, false, {});
      view.nodes.forEach(function (n) {
        n.current = n.id === focus;
        n.moreUp = graph.up[n.id].filter(function (id) { return !members[id]; }).length;
        n.moreDown = graph.down[n.id].filter(function (id) { return !members[id]; }).length;
      });
      draw(layout(view), function () {});
      var shown = tableCount(members) - 1;
      say(shown ? shown + " related table" + (shown === 1 ? "" : "s") + " shown" : "no related tables");
    }

    [up, down].forEach(function (control) {
      control.addEventListener("change", function () {
        try { window.localStorage.setItem(STORE, JSON.stringify({ up: up.value, down: down.value })); }
        catch (ignored) { /* see above */ }
        render();
      });
    });
    tools.hidden = false;
    render();
  }

  window.MedallionLineage = {
    select: function (text) { return Object.keys(select(graph, text).ids).sort(); }
  };
  if (figure.getAttribute("data-view") === "table") { neighbourhood(); } else { overview(); }
  ready();
})();
