"""What the preview pane shows for one entry (no Textual here: it runs in a worker).

Regular files: the first MAX_BYTES, as highlighted text or as a hex dump; a modified file:
a unified diff between the two versions; a directory: its biggest entries.
"""

from __future__ import annotations

import difflib
import heapq
from dataclasses import dataclass, field

from rich.text import Text

from layerscope.engine.browse.changes import Cancel, ChangeSet, Status
from layerscope.engine.image import Image
from layerscope.errors import Cancelled, LayerscopeError
from layerscope.model.entry import EntryKind
from layerscope.ui.fmt import human_size, ls_mode, mtime, owner, safe, signed_size

MAX_BYTES = 1 << 20
HIGHLIGHT_BYTES = 256 << 10  # beyond this, text is shown plain (pygments is slow)
HEX_WIDTH = 16
DIR_LISTING = 30
_CONTROL = {c: "\ufffd" for c in [*range(0x20), 0x7F] if c not in (0x09, 0x0A)}
STATUS_STYLE = {
    Status.ADDED: "green",
    Status.REMOVED: "red",
    Status.MODIFIED: "yellow",
    Status.UNCHANGED: "",
    Status.PENDING: "italic",
}
STATUS_WORD = {
    Status.ADDED: "added",
    Status.REMOVED: "removed",
    Status.MODIFIED: "modified",
    Status.UNCHANGED: "unchanged",
    Status.PENDING: "pending",
}


@dataclass(slots=True)
class Preview:
    key: int  # the display id it describes
    path: str
    kind: str  # "text", "hex", "diff", "dir", "info", "error"
    header: list[Text] = field(default_factory=list)
    lines: list[Text] = field(default_factory=list)
    data: bytes = b""  # the bytes of a hex view
    truncated: bool = False

    @property
    def line_count(self) -> int:
        if self.kind == "hex":
            return (len(self.data) + HEX_WIDTH - 1) // HEX_WIDTH
        return len(self.lines)

    def plain(self) -> str:
        """Everything the pane shows, as text (for tests and the clipboard)."""
        body = [t.plain for t in self.lines]
        if self.kind == "hex":
            body = [hex_line(self.data, i).plain for i in range(self.line_count)]
        return "\n".join([t.plain for t in self.header] + body)


def hex_line(data: bytes, row: int) -> Text:
    chunk = data[row * HEX_WIDTH : (row + 1) * HEX_WIDTH]
    hexes = " ".join(f"{b:02x}" for b in chunk)
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
    line = Text(f"{row * HEX_WIDTH:08x}  ", style="dim")
    line.append(f"{hexes:<{HEX_WIDTH * 3 - 1}}  ")
    line.append(f"|{text}|", style="cyan")
    return line


def as_text(data: bytes, truncated: bool) -> str | None:
    """The bytes as text, or None if they look binary."""
    if b"\0" in data[:8192]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        # A multi-byte character cut by the size limit is not a sign of binary data.
        if not (truncated and e.start >= len(data) - 3):
            return None
        text = data[: e.start].decode("utf-8")
    return text.replace("\r\n", "\n").translate(_CONTROL)


def _lexer(path: str, text: str) -> str:
    """A Pygments lexer alias from the name (and a little of the text), else a shebang."""
    from rich.syntax import Syntax  # pygments: imported on the first preview, not at start

    name = path.rpartition("/")[2]
    if "." in name.strip("."):
        # only a prefix: guessing from content runs every lexer's analyser over it
        alias = Syntax.guess_lexer(name, text[:2048])
        if alias != "default":
            return alias
    first = text.split("\n", 1)[0]
    if first.startswith("#!"):
        for word, alias in (("python", "python"), ("perl", "perl"), ("sh", "bash")):
            if word in first:
                return alias
    return "text"


def text_lines(text: str, path: str) -> list[Text]:
    text = text.expandtabs(8)
    if text.endswith("\n"):
        text = text[:-1]  # a final newline ends the last line; it does not start one
    plain = text.split("\n")
    if len(text) > HIGHLIGHT_BYTES:
        return [Text(line) for line in plain]
    lexer = _lexer(path, text)
    if lexer == "text":
        return [Text(line) for line in plain]
    from rich.syntax import Syntax

    highlighted = Syntax(text, lexer, theme="ansi_dark").highlight(text)
    return list(highlighted.split("\n", allow_blank=True))[: len(plain)]


def _read(img: Image, node: int) -> tuple[bytes, bool]:
    data = img.read(node, MAX_BYTES)
    return data, img.tree.size[node] > MAX_BYTES


def build_preview(
    cs: ChangeSet,
    d: int,
    hex_mode: bool = False,
    labels: tuple[str, str] = ("before", "after"),
    cancel: Cancel | None = None,
) -> Preview:
    img, node = cs.locate(d)
    tree = img.tree
    status = cs.status(d)
    path = cs.path(d)
    kind = EntryKind(tree.kind[node])
    _check(cancel)
    out = Preview(d, path, "info", header=_header(cs, d, labels))
    try:
        if kind == EntryKind.DIR:
            _directory(cs, d, out)
        elif kind == EntryKind.FILE:
            mod = cs.modified.get(d) if status == Status.MODIFIED else None
            old_is_file = mod is not None and cs.before.tree.kind[mod.old] == EntryKind.FILE
            if mod is not None and old_is_file and "content" in mod.changes and not hex_mode:
                _diff(cs, mod.old, node, path, labels, out, cancel)
            else:
                _file(img, node, path, hex_mode, out, cancel)
    except Cancelled:
        raise
    except LayerscopeError as e:
        out.kind = "error"
        out.lines = [Text(f"cannot read: {safe(str(e))}", style="bold red")]
    return out


def _check(cancel: Cancel | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")


def _header(cs: ChangeSet, d: int, labels: tuple[str, str]) -> list[Text]:
    img, node = cs.locate(d)
    tree = img.tree
    status = cs.status(d)
    kind = EntryKind(tree.kind[node])
    title = Text(f"{status.letter} ", style=f"bold {STATUS_STYLE[status]}")
    title.append(safe(cs.path(d)), style="bold")
    size = human_size(tree.rolled_size(node))
    facts = f"{ls_mode(tree, node)}  {owner(tree, node)}  {size}  {mtime(tree.mtime[node])}"
    lines = [title, Text(facts, style="dim")]
    if kind == EntryKind.SYMLINK:
        lines.append(Text(f"→ {safe(tree.target.get(node, ''))}"))
    if node in tree.rdev:
        major, minor = tree.rdev[node]
        lines.append(Text(f"device {major},{minor}"))
    if node in tree.link_group:
        lines.append(Text("hard-linked (one inode, several names)", style="dim"))
    if node in tree.xattrs:
        names = ", ".join(safe(k) for k in sorted(tree.xattrs[node]))
        lines.append(Text(f"xattrs: {names}", style="dim"))
    where = f"{STATUS_WORD[status]} in {labels[1]}"
    if status == Status.UNCHANGED:
        where = f"unchanged since {labels[0]}"
    elif status == Status.PENDING:
        where = f"same size and attributes as in {labels[0]}: contents not compared yet"
    lines.append(Text(where, style=STATUS_STYLE[status]))
    mod = cs.modified.get(d)
    if mod is not None:
        old_tree = cs.before.tree
        parts = []
        for change in mod.changes:
            if change == "mode":
                parts.append(f"mode {old_tree.mode[mod.old]:04o} → {tree.mode[node]:04o}")
            elif change == "owner":
                parts.append(f"owner {owner(old_tree, mod.old)} → {owner(tree, node)}")
            elif change == "size":
                old, new = old_tree.size[mod.old], tree.size[node]
                grew = signed_size(new - old)
                parts.append(f"size {human_size(old)} → {human_size(new)} ({grew})")
            elif change == "target":
                parts.append(
                    f"target {safe(old_tree.target.get(mod.old, ''))} → "
                    f"{safe(tree.target.get(node, ''))}"
                )
            else:
                parts.append(change)
        lines.append(Text("changed: " + ", ".join(parts), style="yellow"))
    lines.append(Text(""))
    return lines


def _directory(cs: ChangeSet, d: int, out: Preview) -> None:
    kids = cs.children(d)
    out.kind = "dir"
    # a directory may hold 50,000 entries: pick the biggest without sorting them all
    top = heapq.nsmallest(DIR_LISTING, kids, key=lambda k: (-cs.size(k), cs.name(k)))
    out.lines.append(Text(f"{len(kids):,} entries; the biggest:", style="dim"))
    for k in top:
        st = cs.status(k)
        line = Text(f"{st.letter} ", style=STATUS_STYLE[st])
        line.append(f"{human_size(cs.size(k)):>10}  ")
        line.append(safe(cs.name(k)) + ("/" if cs.is_dir(k) else ""))
        out.lines.append(line)
    if len(kids) > DIR_LISTING:
        out.lines.append(Text(f"… and {len(kids) - DIR_LISTING:,} more", style="dim"))


def _file(
    img: Image, node: int, path: str, hex_mode: bool, out: Preview, cancel: Cancel | None
) -> None:
    _check(cancel)
    data, truncated = _read(img, node)
    _check(cancel)
    out.truncated = truncated
    text = None if hex_mode else as_text(data, truncated)
    if text is None:
        out.kind = "hex"
        out.data = data
    else:
        out.kind = "text"
        out.lines = text_lines(text, path)
    if truncated:
        out.header.insert(-1, Text(f"showing the first {human_size(MAX_BYTES)}", style="dim"))


def _diff(
    cs: ChangeSet,
    old: int,
    new: int,
    path: str,
    labels: tuple[str, str],
    out: Preview,
    cancel: Cancel | None,
) -> None:
    _check(cancel)
    old_data, old_cut = _read(cs.before, old)
    new_data, new_cut = _read(cs.after, new)
    _check(cancel)
    old_text, new_text = as_text(old_data, old_cut), as_text(new_data, new_cut)
    out.truncated = old_cut or new_cut
    if old_text is None or new_text is None:
        out.kind = "info"
        out.lines = [
            Text(
                f"binary files differ ({len(old_data)} → {len(new_data)} B); "
                "press x for a hex view of the new version"
            )
        ]
        return
    out.kind = "diff"
    styles = {"+": "green", "-": "red", "@": "cyan"}
    diff = difflib.unified_diff(
        old_text.splitlines(),
        new_text.splitlines(),
        f"{path} ({labels[0]})",
        f"{path} ({labels[1]})",
        lineterm="",
        n=3,
    )
    for i, line in enumerate(diff):
        if i % 1000 == 0:
            _check(cancel)
        style = "bold" if i < 2 else styles.get(line[:1], "")
        out.lines.append(Text(line.expandtabs(8), style=style))
    if not out.lines:
        out.lines.append(Text("the text is the same (only bytes past the limit differ)"))
