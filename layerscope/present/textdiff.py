"""Unified diffs of the text files two images both hold and whose contents differ, as Docs
(`+` lines "added", `-` lines "removed", hunk headers "dim"), within limits: files up to
MAX_FILE_BYTES each, MAX_FILES files, MAX_LINES diff lines in all. What is left out is
said, file by file (binary, too large, over the limit).

Contents are read through the image's reader; for layers that are streams (tar), every
file wanted from one layer is read in a single pass (readers.base.StreamedContents).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from layerscope.engine.compare import ImageDiff
from layerscope.engine.image import Image
from layerscope.errors import ReaderError
from layerscope.model.entry import EntryKind
from layerscope.present import units
from layerscope.present.doc import Doc
from layerscope.present.text import clean
from layerscope.readers.base import StreamedContents

__all__ = ["FileDiff", "as_text", "text_diffs"]

MAX_FILE_BYTES = 256_000
MAX_FILES = 40
MAX_LINES = 6_000
CONTEXT = 3
STYLE = {"+": "added", "-": "removed", "@": "dim"}


@dataclass(slots=True)
class FileDiff:
    path: str  # as in the image (exact); display it cleaned
    old_size: int
    new_size: int
    doc: Doc | None  # None: not shown, `note` says why
    note: str = ""


def as_text(data: bytes) -> str | None:
    """The bytes as text, or None when they look binary (a NUL, or not UTF-8)."""
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _read_all(img: Image, nodes: Iterable[int]) -> dict[int, bytes]:
    """Whole contents of regular files, one pass per layer for streamed layers."""
    tree = img.tree
    wanted = list(dict.fromkeys(nodes))
    reader = img.reader
    if not isinstance(reader, StreamedContents):
        return {n: img.read(n) for n in wanted}
    by_layer: dict[int, dict[int, list[int]]] = {}
    for n in wanted:
        if tree.loc[n] >= 0:  # else no content to read: shown as not readable
            by_layer.setdefault(tree.source_layer(n), {}).setdefault(tree.loc[n], []).append(n)
    out: dict[int, bytes] = {}
    for layer, locs in sorted(by_layer.items()):
        asks = sorted((loc, tree.size[ns[0]]) for loc, ns in locs.items())
        for loc, chunks in reader.read_contents(layer, asks):
            data = b"".join(chunks)
            for n in locs.get(loc, ()):
                out[n] = data
    return out


def text_diffs(d: ImageDiff, labels: tuple[str, str] = ("a", "b")) -> list[FileDiff]:
    """The modified regular files whose content changed, in path order, each with its
    unified diff when both sides are text within the limits."""
    ta, tb = d.a.tree, d.b.tree
    candidates = [
        m
        for m in d.tree.modified
        if "content" in m.changes or "size" in m.changes
        if ta.kind[m.old] == EntryKind.FILE and tb.kind[m.new] == EntryKind.FILE
    ]
    out: list[FileDiff] = []
    chosen: list[tuple[FileDiff, int, int]] = []
    for m in candidates:
        fd = FileDiff(m.path, ta.size[m.old], tb.size[m.new], None)
        out.append(fd)
        if max(fd.old_size, fd.new_size) > MAX_FILE_BYTES:
            fd.note = f"larger than {units.size(MAX_FILE_BYTES)}: not compared as text"
        elif len(chosen) >= MAX_FILES:
            fd.note = f"not shown: the report shows {MAX_FILES} text diffs at most"
        else:
            chosen.append((fd, m.old, m.new))
    try:
        old = _read_all(d.a, (o for _, o, _ in chosen))
        new = _read_all(d.b, (n for _, _, n in chosen))
    except ReaderError as e:
        for fd, _, _ in chosen:
            fd.note = f"not read: {e}"
        return out
    budget = MAX_LINES
    for fd, o, n in chosen:
        if o not in old or n not in new:
            fd.note = "content not readable"
            continue
        a_text, b_text = as_text(old[o]), as_text(new[n])
        if a_text is None or b_text is None:
            fd.note = "binary content differs"
            continue
        if budget <= 0:
            fd.note = f"not shown: the report shows {MAX_LINES:,} diff lines at most"
            continue
        fd.doc, budget = _unified(fd.path, a_text, b_text, labels, budget)
    return out


def _unified(path: str, a: str, b: str, labels: tuple[str, str], budget: int) -> tuple[Doc, int]:
    doc = Doc()
    lines = difflib.unified_diff(
        a.splitlines(),
        b.splitlines(),
        f"{path} ({labels[0]})",
        f"{path} ({labels[1]})",
        lineterm="",
        n=CONTEXT,
    )
    for i, line in enumerate(lines):
        if i >= budget:
            doc.line(("… (diff cut: line limit reached)", "dim"))
            return doc, 0
        style = "name" if i < 2 else STYLE.get(line[:1], "")
        doc.line((clean(line.expandtabs(8)), style))
    if not doc.lines:
        doc.line(("only line endings differ", "dim"))
    return doc, budget - len(doc.lines)
