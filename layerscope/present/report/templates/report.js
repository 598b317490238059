// layerscope report: treemap drill-down, table filters and sorting. The page works without
// this script (the header, the tables and the treemap's top view are static); no network.
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var dataEl = document.getElementById("treemap-data");
  var tm = dataEl ? JSON.parse(dataEl.textContent) : null;

  // -- treemap -----------------------------------------------------------------------
  // a node: [name, parent, bytes, owner, size text] (a file) + [kind, entries, view]
  function kind(n) { var r = tm.nodes[n]; return r.length > 5 ? r[5] : 1; }
  function view(n) { var r = tm.nodes[n]; return r.length > 5 ? r[7] : -1; }
  function path(n) {
    var parts = [];
    while (n > 0) { parts.push(tm.nodes[n][0]); n = tm.nodes[n][1]; }
    return "/" + parts.reverse().join("/");
  }
  function color(owner) { return owner < 0 ? tm.other : tm.palette[owner % tm.palette.length]; }
  function label(name, size, w, h) {
    if (w < tm.label[0] || h < tm.label[1]) return "";
    var fit = Math.floor((w - 6) / tm.label[2]), both = name + "  " + size;
    if (both.length <= fit) return both;
    return name.length <= fit ? name : name.slice(0, Math.max(fit - 1, 1)) + "\u2026";
  }
  function title(n) {
    var node = tm.nodes[n], k = kind(n), owner = node[3];
    var t = k === 2 ? path(node[1]) + " (" + node[0] + ")" : path(n);
    t += " \u2014 " + node[4];
    if (k !== 1) t += ", " + node[6].toLocaleString("en-US") + " entries";
    if (owner >= 0 && owner < tm.owners.length)
      t += " \u2014 " + (k === 0 ? "mostly " : "") + tm.owners[owner];
    return t;
  }
  // what a view shows: its rectangles, and inside each large child directory with a view
  // of its own that view scaled down (as treemap.compose does for the static top view)
  function compose(v) {
    var own = tm.views[v][1], out = own.slice(), i, j;
    var minArea = tm.nest[0], header = tm.nest[1], pad = tm.nest[2];
    var minSide = tm.nest[3], most = tm.nest[4];
    for (i = 0; i < own.length; i += 6) {
      var sub = view(own[i]), x = own[i + 1], y = own[i + 2], w = own[i + 3], h = own[i + 4];
      if (sub < 0 || w * h < minArea || h <= header + 2 * pad) continue;
      var ix = x + pad, iy = y + header, sx = (w - 2 * pad) / tm.w, sy = (h - header - pad) / tm.h;
      var kids = tm.views[sub][1], shown = 0;
      for (j = 0; j < kids.length && shown < most; j += 6) {
        var rw = Math.round(kids[j + 3] * sx), rh = Math.round(kids[j + 4] * sy);
        if (rw < minSide || rh < minSide) continue;
        out.push(kids[j], Math.round(ix + kids[j + 1] * sx), Math.round(iy + kids[j + 2] * sy),
                 rw, rh, 1);
        shown++;
      }
    }
    return out;
  }
  var current = 0;
  function draw(v) {
    var svg = document.getElementById("tm");
    var v0 = tm.views[v][0], rects = compose(v), framed = {}, i;
    for (i = 0; i < rects.length; i += 6) if (rects[i + 5] > 0) framed[tm.nodes[rects[i]][1]] = true;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    for (i = 0; i < rects.length; i += 6) {
      var n = rects[i], x = rects[i + 1], y = rects[i + 2], w = rects[i + 3], h = rects[i + 4];
      var node = tm.nodes[n], frame = !!framed[n];
      var g = document.createElementNS(SVGNS, "g");
      g.setAttribute("data-n", n);
      if (view(n) >= 0 && n !== v0) g.setAttribute("class", "drill");
      var r = document.createElementNS(SVGNS, "rect");
      r.setAttribute("x", x); r.setAttribute("y", y);
      r.setAttribute("width", w); r.setAttribute("height", h);
      r.setAttribute("fill", frame ? tm.frame : color(node[3]));
      r.setAttribute("class", "d" + rects[i + 5] + (frame ? " frame" : "") +
        (kind(n) === 2 ? " other" : ""));
      var tt = document.createElementNS(SVGNS, "title");
      tt.textContent = title(n);
      r.appendChild(tt);
      g.appendChild(r);
      var text = label(node[0], node[4], w, h);
      if (text) {
        var te = document.createElementNS(SVGNS, "text");
        te.setAttribute("x", x + 3); te.setAttribute("y", y + 11);
        te.textContent = text;
        g.appendChild(te);
      }
      svg.appendChild(g);
    }
    current = v;
    document.getElementById("tm-crumbs").textContent = path(v0) + "  \u2014  " + tm.nodes[v0][4];
    document.getElementById("tm-up").disabled = v0 === 0;
  }
  function nodeOf(target) {
    var g = target.closest ? target.closest("g[data-n]") : null;
    return g ? parseInt(g.getAttribute("data-n"), 10) : -1;
  }
  if (tm && tm.views.length) {
    var svg = document.getElementById("tm");
    svg.addEventListener("click", function (ev) {
      var n = nodeOf(ev.target);
      if (n < 0) return;
      // the directory clicked, or the nearest directory above it that has a view
      var top = tm.views[current][0];
      while (n !== top && n > 0 && view(n) < 0) n = tm.nodes[n][1];
      if (n !== top && view(n) >= 0) draw(view(n));
    });
    svg.addEventListener("mouseover", function (ev) {
      var n = nodeOf(ev.target);
      document.getElementById("tm-hover").textContent = n >= 0 ? title(n) : "";
    });
    document.getElementById("tm-up").addEventListener("click", function () {
      var n = tm.nodes[tm.views[current][0]][1];
      while (n > 0 && view(n) < 0) n = tm.nodes[n][1];
      draw(n >= 0 ? view(n) : 0);
    });
    document.getElementById("tm-crumbs").textContent = "/  \u2014  " + tm.nodes[0][4];
  }

  // -- sortable tables -----------------------------------------------------------------
  function cellValue(td, kind) {
    if (kind === "num") {
      var v = td.getAttribute("data-v");
      return v === null ? parseFloat(td.textContent) || 0 : parseFloat(v);
    }
    return td.textContent;
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var ths = table.querySelectorAll("th");
    Array.prototype.forEach.call(ths, function (th, col) {
      var kind = th.getAttribute("data-sort");
      if (!kind) return;
      th.addEventListener("click", function () {
        var desc = !th.classList.contains("desc");
        Array.prototype.forEach.call(ths, function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(desc ? "desc" : "asc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a.cells[col], kind), y = cellValue(b.cells[col], kind);
          var c = kind === "num" ? x - y : (x < y ? -1 : x > y ? 1 : 0);
          return desc ? -c : c;
        });
        var frag = document.createDocumentFragment();
        rows.forEach(function (r) { frag.appendChild(r); });
        body.appendChild(frag);
      });
    });
  });

  // -- change filters ------------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll("section.diff"), function (sec) {
    var box = sec.querySelector(".filter"), table = sec.querySelector("table.changes");
    if (!box || !table) return;
    box.hidden = false;
    var input = box.querySelector("input[type=search]");
    var checks = box.querySelectorAll("input[type=checkbox]");
    var count = box.querySelector(".count");
    function apply() {
      var text = input.value, re = null, shown = 0, total = 0;
      if (text.length > 2 && text[0] === "/" && text[text.length - 1] === "/") {
        try { re = new RegExp(text.slice(1, -1)); } catch (e) { re = null; }
      }
      var want = {};
      Array.prototype.forEach.call(checks, function (c) { want[c.value] = c.checked; });
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        if (row.cells.length < 2) return;
        total++;
        var p = row.cells[1].textContent;
        var ok = want[row.className] !== false &&
          (re ? re.test(p) : p.indexOf(text) >= 0);
        row.hidden = !ok;
        if (ok) shown++;
      });
      count.textContent = shown.toLocaleString("en-US") + " of " + total.toLocaleString("en-US") + " listed";
    }
    input.addEventListener("input", apply);
    Array.prototype.forEach.call(checks, function (c) { c.addEventListener("change", apply); });
    apply();
  });
})();
