"""The file tree's displayed lines, flattened (no Textual here, so it is testable alone).

A line is a display id of a ChangeSet and a depth. Children are sorted and filtered only
when their directory is expanded; the lines are plain ints, so inserting the 50,000 children
of one directory is one list splice, and only the lines on screen are ever rendered.
"""

from __future__ import annotations

from collections.abc import Iterable

from layerscope.engine.browse.changes import Cancel, ChangeSet
from layerscope.model.tree import ROOT

SORT_SIZE = "size"
SORT_NAME = "name"
BIG_DIR = 2000  # a directory with more children than this is sorted in a worker
AUTO_EXPAND = 400  # a tree with at most this many entries to show opens fully


class Rows:
    """Lines of the displayed tree of one change set, under one filter and sort order."""

    def __init__(self, cs: ChangeSet, visible: set[int] | None, sort: str = SORT_SIZE) -> None:
        self.cs = cs
        self.visible = visible
        self.sort = sort
        self.ids: list[int] = []
        self.depth: list[int] = []
        self.expanded: set[int] = set()
        self._kids: dict[int, list[int]] = {}
        self._expandable: dict[int, bool] = {}

    def __len__(self) -> int:
        return len(self.ids)

    # -- children -----------------------------------------------------------------------

    def raw_count(self, d: int) -> int:
        return len(self.cs.children(d))

    def needs_worker(self, d: int) -> bool:
        return d not in self._kids and self.raw_count(d) > BIG_DIR

    def children(self, d: int) -> list[int]:
        """Displayed children of `d`, filtered and sorted (cached)."""
        kids = self._kids.get(d)
        if kids is None:
            cs = self.cs
            kids = cs.children(d)
            if self.visible is not None:
                vis = self.visible
                kids = [k for k in kids if k in vis]
            if self.sort == SORT_NAME:
                kids.sort(key=cs.name)
            else:
                kids.sort(key=lambda k: (-cs.size(k), cs.name(k)))
            self._kids[d] = kids
        return kids

    def expandable(self, d: int) -> bool:
        """Whether the directory has something to show, without sorting its children."""
        got = self._expandable.get(d)
        if got is None:
            cs = self.cs
            if d in self._kids:
                got = bool(self._kids[d])
            elif not cs.is_dir(d):
                got = False
            elif self.visible is None:
                got = cs.has_children(d)
            else:
                vis = self.visible
                got = any(k in vis for k in cs.children(d))
            self._expandable[d] = got
        return got

    def is_last(self, d: int) -> bool:
        parent = self.cs.parent(d)
        kids = self._kids.get(ROOT if parent is None else parent)
        return not kids or kids[-1] == d

    # -- building -----------------------------------------------------------------------

    def shown_count(self) -> int:
        """How many entries the filter lets through (all of them without a filter)."""
        if self.visible is not None:
            return len(self.visible) - 1
        return len(self.cs.after.tree) + len(self.cs.removed) - 1

    def build(
        self,
        expanded_paths: Iterable[str] = (),
        expand_all: bool | None = None,
        cancel: Cancel | None = None,
    ) -> None:
        """Lay the lines out: the root's children, and under every directory that is
        expanded (by path), its own. expand_all None: open everything if the tree is small."""
        if expand_all is None:
            expand_all = self.shown_count() <= AUTO_EXPAND
        want = set()
        for path in expanded_paths:
            d = self.cs.lookup(path)
            if d is not None:
                want.add(d)
        self.ids, self.depth, self.expanded = [], [], set()
        stack: list[tuple[int, int]] = [(k, 0) for k in reversed(self.children(ROOT))]
        n = 0
        while stack:
            d, depth = stack.pop()
            self.ids.append(d)
            self.depth.append(depth)
            n += 1
            if cancel is not None and n % 4096 == 0 and cancel.is_set():
                return
            if (expand_all or d in want) and self.cs.is_dir(d):
                kids = self.children(d)
                if kids:
                    self.expanded.add(d)
                    stack.extend((k, depth + 1) for k in reversed(kids))

    def expanded_paths(self) -> set[str]:
        return {self.cs.path(d) for d in self.expanded}

    # -- editing ------------------------------------------------------------------------

    def expand(self, i: int) -> int:
        """Open the directory on line i; returns the number of lines inserted."""
        d = self.ids[i]
        if d in self.expanded or not self.cs.is_dir(d):
            return 0
        kids = self.children(d)
        if not kids:
            return 0
        self.expanded.add(d)
        depth = self.depth[i] + 1
        self.ids[i + 1 : i + 1] = kids
        self.depth[i + 1 : i + 1] = [depth] * len(kids)
        return len(kids)

    def collapse(self, i: int) -> int:
        """Close the directory on line i; returns the number of lines removed."""
        d = self.ids[i]
        if d not in self.expanded:
            return 0
        self.expanded.discard(d)
        end = self._subtree_end(i)
        for j in range(i + 1, end):
            self.expanded.discard(self.ids[j])
        del self.ids[i + 1 : end]
        del self.depth[i + 1 : end]
        return end - i - 1

    def _subtree_end(self, i: int) -> int:
        depth = self.depth[i]
        end = i + 1
        n = len(self.ids)
        while end < n and self.depth[end] > depth:
            end += 1
        return end

    def parent_line(self, i: int) -> int | None:
        depth = self.depth[i]
        for j in range(i - 1, -1, -1):
            if self.depth[j] < depth:
                return j
        return None

    def line_of(self, d: int) -> int | None:
        try:
            return self.ids.index(d)
        except ValueError:
            return None

    def reveal(self, path: str) -> int | None:
        """Expand the directories down to `path`; its line, if it is displayed."""
        d = self.cs.lookup(path)
        if d is None:
            return None
        chain: list[int] = []
        up = self.cs.parent(d)
        while up is not None and up != ROOT:
            chain.append(up)
            up = self.cs.parent(up)
        for anc in reversed(chain):
            line = self.line_of(anc)
            if line is None:
                return None
            self.expand(line)
        return self.line_of(d)

    # -- drawing ------------------------------------------------------------------------

    def guides(self, i: int) -> str:
        """dive's tree guides for line i ("│   ├── ", "└─⊕ " for a closed directory)."""
        d = self.ids[i]
        last = self.is_last(d)
        closed = d not in self.expanded and self.expandable(d)
        own = ("└─" if last else "├─") + ("⊕ " if closed else "─ ")
        parts = [own]
        up = self.cs.parent(d)
        for _ in range(self.depth[i]):
            if up is None:
                break
            parts.append("    " if self.is_last(up) else "│   ")
            up = self.cs.parent(up)
        return "".join(reversed(parts))
