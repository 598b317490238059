"""The "what made it big" panel's text (no Textual here): a step's growth and its largest
contributors, by directory and by package, and the caches and secrets it added, from
engine.contributors. Sizes in SI units, signed where they are changes; every path and
package name from the image is cleaned."""

from __future__ import annotations

from rich.text import Text

from layerscope.engine.contributors import Contributors, DirGrowth
from layerscope.model.packages.records import SYSTEM
from layerscope.present import units
from layerscope.present.doc import Doc, image
from layerscope.ui.richdoc import to_text

SIZE_WIDTH = 10


def _files(n: int) -> str:
    return f"{units.count(n)} file" + ("" if n == 1 else "s")


def _size(n: int) -> str:
    return f"{units.signed_size(n):>{SIZE_WIDTH}}"


def _dirs(doc: Doc, title: str, rows: list[DirGrowth], style: str) -> None:
    doc.title(title)
    if not rows:
        doc.line(("  none", "dim"))
    for row in rows:
        doc.line((f"  {_size(row.net)}  ", style), image(row.path))


def growth_text(name: str, before: str, c: Contributors) -> Text:
    """`name` ("stage s3.sif", "layer 2") and `before` (what it is compared with) are our
    labels; everything else comes from the document."""
    doc = Doc()
    doc.line(("What made it big: ", "name"), image(name), (f"  (against {before})", "dim"))
    g = c.growth
    doc.field("Net", units.signed_size(g.net), "size")
    doc.field("Added", f"{units.signed_size(g.added)} in {_files(c.added_files)}, new")
    doc.field("Removed", units.signed_size(-g.removed))
    doc.field("Modified", f"{units.signed_size(g.modified)} (size changes of rewritten files)")
    doc.line(("Regular-file bytes, hard-linked content once, from the listings.", "dim"))
    _dirs(doc, "Directories that grew most", c.grew, "added")
    if c.shrank:
        _dirs(doc, "Directories that shrank most", c.shrank, "removed")
    doc.title("Packages (what their new and rewritten files brought)")
    if not c.packages and c.no_package is None:
        doc.line(("  no file brought bytes", "dim"))
    for p in c.packages:
        where = "" if p.env == SYSTEM else f"  [{p.env}]"
        doc.line(
            (f"  {_size(p.bytes)}  ", "added" if p.bytes >= 0 else "removed"),
            (f"{p.manager:<6} ", "dim"),
            image(f"{p.name} {p.version}{where}"),
            (f"  {_files(p.files)}", "dim"),
        )
    if c.package_count > len(c.packages):
        doc.line((f"  … and {c.package_count - len(c.packages):,} more packages", "dim"))
    if c.no_package is not None:
        n = c.no_package
        doc.line(
            (f"  {_size(n.bytes)}  ", "warn"),
            ("no package (no database lists them)", ""),
            (f"  {_files(n.files)}", "dim"),
        )
    for problem in c.package_problems[:3]:
        doc.line(("  ", ""), image(problem, "dim"))
    doc.title("Caches and junk it added (by path)")
    if not c.caches:
        doc.line(("  none", "dim"))
    for k in c.caches[:12]:
        doc.line(
            (f"  {_size(k.bytes)}  ", "warn"),
            image(k.path),
            (f"  {k.cls} ({k.category}), {_files(k.files)}", "dim"),
        )
    doc.title("Secrets it added")
    how = (
        f"by file name in every added or rewritten file; by content in "
        f"{_files(c.content_read)} whose names make them candidates"
    )
    if c.content_skipped:
        how += f" ({units.count(c.content_skipped)} more not read: too big or too many)"
    doc.line((how, "dim"))
    if not c.secrets:
        doc.line(("  none", "dim"))
    for s in c.secrets[:20]:
        at = f":{s.line}" if s.line else ""
        detail = f"  {s.detail}" if s.detail else ""
        doc.line(
            ("  ", ""), image(f"{s.path}{at}", "alert"), image(f"  {s.kind} (by {s.how}){detail}")
        )
    if len(c.secrets) > 20:
        doc.line((f"  … and {len(c.secrets) - 20:,} more", "dim"))
    return to_text(doc)
