// The sidebar: every table by layer, drawn from assets/catalog.js so that pages do not each carry a copy
// (at 1,000 tables a copy was 80 KB per page). A layer with many tables lists its domains (the owning
// teams) with their counts; a domain's tables are added to the page when it is opened, so even a large
// catalog costs a few dozen elements per page. No libraries.
(function () {
  "use strict";
  var GROUP_ABOVE = 30;  // a layer with more tables than this lists its domains first
  var data = window.MEDALLION_CATALOG;
  var nav = document.getElementById("sidebar");
  if (!data || !nav) { return; }
  var root = document.body.getAttribute("data-root") || "";
  var current = document.body.getAttribute("data-table");

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function count(n) {
    return element("span", "count", n.toLocaleString("en-US"));
  }

  function list(tables) {
    var ul = element("ul");
    tables.forEach(function (table) {
      var li = element("li");
      var a = element("a", "", table.name);
      a.href = root + "tables/" + table.name + ".html";
      if (table.name === current) { a.setAttribute("aria-current", "page"); }
      li.appendChild(a);
      ul.appendChild(li);
    });
    return ul;
  }

  // A collapsed domain whose list is built the first time it is opened.
  function domainGroup(domain, tables) {
    var details = element("details", "nav-domain");
    var summary = element("summary", "", domain + " ");
    summary.appendChild(count(tables.length));
    details.appendChild(summary);
    details.addEventListener("toggle", function () {
      if (details.open && details.children.length === 1) { details.appendChild(list(tables)); }
    });
    if (tables.some(function (t) { return t.name === current; })) {
      details.appendChild(list(tables));
      details.open = true;
    }
    return details;
  }

  function byDomain(tables) {
    var groups = {};
    tables.forEach(function (t) { (groups[t.domain] = groups[t.domain] || []).push(t); });
    return Object.keys(groups).sort().map(function (domain) {
      return [domain, groups[domain].slice().sort(function (a, b) { return a.name < b.name ? -1 : 1; })];
    });
  }

  function layerSection(layer, tables, fragment) {
    var title = element("h2", "layer-title layer-" + layer, layer + " ");
    title.appendChild(count(tables.length));
    fragment.appendChild(title);
    if (!tables.length) {
      var none = element("ul");
      none.appendChild(element("li", "muted", "no tables"));
      fragment.appendChild(none);
    } else if (tables.length <= GROUP_ABOVE) {
      fragment.appendChild(list(tables));
    } else {
      var domains = element("div", "nav-domains");
      byDomain(tables).forEach(function (pair) { domains.appendChild(domainGroup(pair[0], pair[1])); });
      fragment.appendChild(domains);
    }
  }

  var layers = {};
  data.layers.forEach(function (layer) { layers[layer] = []; });
  data.tables.forEach(function (t) { layers[t.layer].push(t); });
  var fragment = document.createDocumentFragment();
  data.layers.forEach(function (layer) { layerSection(layer, layers[layer], fragment); });
  nav.appendChild(fragment);
  var active = nav.querySelector("a[aria-current=page]");
  if (active && active.offsetTop > nav.clientHeight * 0.6) {
    nav.scrollTop = active.offsetTop - nav.clientHeight / 2;  // the sidebar scrolls, not the page
  }
  nav.setAttribute("data-ready", "true");
})();
