"""ReportPage -> one self-contained HTML file (Jinja2, autoescape on).

Everything is inline: the stylesheet, the script and the treemap's data; the page loads
nothing (its Content-Security-Policy says so to the browser: `default-src 'none'`, and
only the exact inline script and stylesheet, by hash, may run). Text from the images
reaches the page cleaned (present.text: control characters and bidirectional overrides as
visible escapes) and HTML-escaped by autoescape, so `<script>` in a name is text; data for
the script is serialised by Jinja's `tojson`, which escapes `<`, `>`, `&` and `'`, so
`</script>` in a name cannot close the data block.

The header, the tables and the treemap's top view are plain HTML and SVG (they need no
script); drilling into the treemap, filtering and sorting the tables use the script.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources
from typing import Any

import jinja2

from layerscope import __version__
from layerscope.present import units
from layerscope.present.htmldoc import doc_html
from layerscope.present.report.build import ReportPage
from layerscope.present.text import clean
from layerscope.present.treemap import (
    HEADER,
    MAX_NESTED_KIDS,
    MIN_NESTED_SIDE,
    NEST_MIN_AREA,
    PAD,
    Treemap,
    compose,
)

__all__ = ["PALETTE", "render", "treemap_data", "view_items"]

# Tableau's 10 qualitative colours, then 6 more: layers and stages are told apart by hue
PALETTE = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#8cd17d", "#f1ce63",
    "#a0cbe8", "#ffbe7d",
]  # fmt: skip
OTHER = "#d9d9d9"
FRAME = "#f4f4f4"
LABEL_MIN_W, LABEL_MIN_H, CHAR_W = 36, 13, 6.6


def color(owner: int) -> str:
    return OTHER if owner < 0 else PALETTE[owner % len(PALETTE)]


def _label(name: str, size: str, w: int, h: int) -> str:
    """What fits in a rectangle: the name and size, the name, or the name cut short."""
    if w < LABEL_MIN_W or h < LABEL_MIN_H:
        return ""
    fit = int((w - 6) / CHAR_W)
    both = f"{name}  {size}"
    if len(both) <= fit:
        return both
    return name if len(name) <= fit else name[: max(fit - 1, 1)] + "…"


def view_items(tm: Treemap, index: int, owners: list[str]) -> list[dict[str, Any]]:
    """The rectangles view `index` shows (treemap.compose), ready to draw; the script
    draws the others the same way from treemap_data."""
    rects = compose(tm, index)
    top = tm.views[index].node
    framed = {tm.nodes[r[0]].parent for r in rects if r[5] > 0}
    items = []
    for n, x, y, w, h, depth in rects:
        node = tm.nodes[n]
        frame = n in framed
        fill = FRAME if frame else color(node.owner)
        who = owners[node.owner] if 0 <= node.owner < len(owners) else ""
        where = tm.path(node.parent) if node.kind == "other" else tm.path(n)
        title = f"{where}{' (' + node.name + ')' if node.kind == 'other' else ''}"
        title += f" — {units.size(node.bytes)}"
        if node.kind != "file":
            title += f", {units.count(node.count)} entries"
        if who:
            title += f" — {'mostly ' if node.kind == 'dir' else ''}{who}"
        items.append(
            {
                "n": n,
                "x": x,
                "y": y,
                "w": w,
                "h": h,
                "depth": depth,
                "fill": fill,
                "frame": frame,
                "other": node.kind == "other",
                "drill": node.view >= 0 and n != top,
                "label": _label(node.name, units.size(node.bytes), w, h),
                "title": title,
            }
        )
    return items


def treemap_data(tm: Treemap, owners: list[str]) -> dict[str, Any]:
    """What the script needs to draw any view: nodes, views as flat rectangle lists
    (node, x, y, w, h, depth), colours and owner labels. A node is [name, parent, bytes,
    owner, size text] for a file, with [kind, entries, view] after those for a directory
    (kind 0) or the summarised rest of one (kind 2): files are most of the nodes."""
    nodes: list[list[Any]] = []
    for n in tm.nodes:
        row: list[Any] = [n.name, n.parent, n.bytes, n.owner, units.size(n.bytes)]
        if n.kind != "file":
            row += [0 if n.kind == "dir" else 2, n.count, n.view]
        nodes.append(row)
    return {
        "w": tm.width,
        "h": tm.height,
        "nodes": nodes,
        "views": [[v.node, [c for r in v.rects for c in r]] for v in tm.views],
        "palette": PALETTE,
        "other": OTHER,
        "frame": FRAME,
        "owners": owners,
        "label": [LABEL_MIN_W, LABEL_MIN_H, CHAR_W],
        "nest": [NEST_MIN_AREA, HEADER, PAD, MIN_NESTED_SIDE, MAX_NESTED_KIDS],
    }


def _asset(name: str) -> str:
    folder = resources.files("layerscope.present.report") / "templates"
    return (folder / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("layerscope.present.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = units.size
    env.filters["size_exact"] = units.size_exact
    env.filters["signed"] = units.signed_size
    env.filters["count"] = units.count
    env.filters["percent"] = units.percent
    env.filters["doc"] = doc_html
    env.filters["clean"] = clean
    return env


def render(page: ReportPage) -> str:
    css, js = _asset("report.css"), _asset("report.js")
    tm = page.treemap
    growth_max = max([max(g.bytes_added, g.bytes_removed) for g in page.growth] + [1])
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            page=page,
            css=css,
            js=js,
            csp=f"default-src 'none'; style-src '{_sha256(css)}'; style-src-attr 'unsafe-inline'; "
            f"script-src '{_sha256(js)}'; img-src 'none'; form-action 'none'; base-uri 'none'",
            version=__version__,
            root_items=view_items(tm, 0, page.owners) if tm.views else [],
            tm_data=treemap_data(tm, page.owners),
            growth_max=growth_max,
            palette=PALETTE,
            color=color,
            a=page.analysis,
        )
    )
