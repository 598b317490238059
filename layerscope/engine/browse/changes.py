"""One step's changes as a tree to display (no UI here; see layerscope.engine.browse.stack).

The displayed tree is the `after` tree's live entries plus the entries the step removed,
which only the `before` tree still holds. Display ids keep both in one int space: an
`after` node n is n (>= 0); a removed `before` node n is -1 - n.

A change set may be made before contents are compared (layerscope.engine.pending): a file
whose size and attributes agree on both sides is PENDING until `settle` gets its answer
(from a worker, in batches); everything else is final from the start.
"""

from __future__ import annotations

import enum
import re
import threading
from collections.abc import Iterable, Iterator

from layerscope.engine.image import Image
from layerscope.engine.pending import Pair, Result, add_content
from layerscope.errors import Cancelled
from layerscope.model.diff import Modified, TreeDiff
from layerscope.model.entry import EntryKind
from layerscope.model.sizes import file_bytes
from layerscope.model.tree import ROOT, FileTree

CANCEL_EVERY = 4096


# threading.Event: what load_image takes and a Textual worker's `cancelled_event` is
Cancel = threading.Event


class Status(enum.IntEnum):
    UNCHANGED = 0
    ADDED = 1
    MODIFIED = 2
    REMOVED = 3
    PENDING = 4  # same size and attributes; contents not compared yet

    @property
    def letter(self) -> str:
        """A letter per status, so markers read without colour (NO_COLOR)."""
        return "UAMD?"[self]


class ChangeSet:
    """Statuses, names, sizes and children of the displayed entries of one step."""

    def __init__(
        self,
        step: int,
        mode: str,
        before: Image,
        after: Image,
        diff: TreeDiff,
        pending: Iterable[Pair] = (),
    ) -> None:
        self.step = step
        self.mode = mode
        self.before = before
        self.after = after
        bt, at = before.tree, after.tree
        self.added: set[int] = {n for _, n in diff.added}
        self.modified: dict[int, Modified] = {m.new: m for m in diff.modified}
        self.removed: list[int] = [-1 - n for _, n in diff.removed]
        self._removed_under: dict[int, list[int]] = {}
        self._removed_parent: dict[int, int] = {}
        self._removed_cache: set[int] | None = None
        self._deltas: dict[int, int] = {}
        gone = {n for _, n in diff.removed}
        for path, n in diff.removed:
            if bt.parent[n] in gone:
                continue  # shown under its removed parent
            parent = at.lookup(path.rpartition("/")[0] or "/")
            if parent is None or not at.is_dir(parent):
                continue  # its directory became a file: nowhere to show it
            self._removed_under.setdefault(parent, []).append(-1 - n)
            self._removed_parent[-1 - n] = parent
        # Contents not compared yet, by `after` node: the pair's `before` node. A pair
        # modified already (its mode changed, say) is not pending, only rechecked: its
        # answer adds "content" to its changes.
        self.pending: dict[int, int] = {nb: na for na, nb in pending}
        self._recheck: dict[int, int] = {}
        for nb in self.modified.keys() & self.pending.keys():
            self._recheck[nb] = self.pending.pop(nb)
        self.cancelled = False  # the user stopped the comparison (it resumes when asked)
        self.failed: str | None = None  # why comparing contents failed (not retried)
        # settle() runs in a worker while the UI and tree workers read: it takes this lock,
        # and so do the readers that iterate (single lookups need none)
        self.lock = threading.Lock()
        self.counts = {
            Status.ADDED: len(self.added),
            Status.MODIFIED: len(self.modified),
            Status.REMOVED: len(self.removed),
            Status.PENDING: len(self.pending),
        }
        self.bytes = {
            Status.ADDED: file_bytes(at, self.added),
            Status.MODIFIED: sum(
                at.size[m.new] - bt.size[m.old]
                for m in diff.modified
                if at.kind[m.new] == EntryKind.FILE and bt.kind[m.old] == EntryKind.FILE
            ),
            Status.REMOVED: file_bytes(bt, (-1 - d for d in self.removed)),
        }

    # -- contents compared after --------------------------------------------------------

    @property
    def settled(self) -> bool:
        """Whether every content comparison is answered (nothing pending)."""
        return not self.pending and not self._recheck

    def pending_pairs(self) -> list[Pair]:
        """The (before, after) node pairs still to compare, unchanged-looking ones first
        (they are the rows that show "?"), each group in the order the diff met them."""
        with self.lock:
            pairs = [(na, nb) for nb, na in self.pending.items()]
            pairs.extend((na, nb) for nb, na in self._recheck.items())
        return pairs

    def settle(self, results: Iterable[Result]) -> int:
        """Take content answers: a pending entry becomes modified (contents differ) or
        unchanged; a modified one gains "content". Returns how many were settled."""
        n = 0
        at = self.after.tree
        with self.lock:
            # a new modified dict, swapped in whole: readers iterate it without the lock
            # (present.growth); the pending one is only iterated under the lock
            modified = self.modified
            for na, nb, same in results:
                if self.pending.pop(nb, None) is not None:
                    n += 1
                    if not same:
                        if modified is self.modified:
                            modified = dict(modified)
                        modified[nb] = Modified(at.path(nb), ["content"], na, nb)
                elif self._recheck.pop(nb, None) is not None:
                    n += 1
                    if not same:
                        add_content(self.modified[nb].changes)
            self.modified = modified
            self.counts[Status.MODIFIED] = len(modified)
            self.counts[Status.PENDING] = len(self.pending)
        # same sizes on both sides: the modified bytes (a net) and the deltas do not move
        return n

    # -- one entry ----------------------------------------------------------------------

    def locate(self, d: int) -> tuple[Image, int]:
        """The image and node that hold a displayed entry."""
        return (self.after, d) if d >= 0 else (self.before, -1 - d)

    def tree_node(self, d: int) -> tuple[FileTree, int]:
        return (self.after.tree, d) if d >= 0 else (self.before.tree, -1 - d)

    def status(self, d: int) -> Status:
        if d < 0:
            return Status.REMOVED
        if d in self.added:
            return Status.ADDED
        if d in self.modified:
            return Status.MODIFIED
        if d in self.pending:
            return Status.PENDING
        return Status.UNCHANGED

    def name(self, d: int) -> str:
        tree, n = self.tree_node(d)
        return tree.name[n]

    def path(self, d: int) -> str:
        tree, n = self.tree_node(d)
        return tree.path(n)

    def kind(self, d: int) -> EntryKind:
        tree, n = self.tree_node(d)
        return EntryKind(tree.kind[n])

    def is_dir(self, d: int) -> bool:
        tree, n = self.tree_node(d)
        return tree.kind[n] == EntryKind.DIR

    def size(self, d: int) -> int:
        """Bytes of a file, or under a directory (rolled up in the tree it comes from)."""
        tree, n = self.tree_node(d)
        return tree.rolled_size(n)

    def delta(self, d: int) -> int:
        """How many bytes the entry grew (a directory: everything under it) from `before`
        to `after`: rolled-up sizes of both sides, so it agrees with the size column.
        Call `before.tree.rolled_size(ROOT)` in a worker first (it rolls up on first use)."""
        got = self._deltas.get(d)
        if got is None:
            if d < 0:
                got = -self.size(d)
            elif d in self.added:
                got = self.size(d)
            else:
                mod = self.modified.get(d)
                old = mod.old if mod is not None else self.before.tree.lookup(self.path(d))
                got = self.size(d) - (self.before.tree.rolled_size(old) if old is not None else 0)
            self._deltas[d] = got
        return got

    def parent(self, d: int) -> int | None:
        if d == ROOT:
            return None
        if d >= 0:
            return self.after.tree.parent[d]
        up = self._removed_parent.get(d)
        return up if up is not None else -1 - self.before.tree.parent[-1 - d]

    def children(self, d: int) -> list[int]:
        """Displayed children, unsorted: live ones, then the ones this step removed."""
        if d >= 0:
            kids = list(self.after.tree.child_ids(d))
            kids.extend(self._removed_under.get(d, ()))
            return kids
        return [-1 - k for k in self.before.tree.child_ids(-1 - d)]

    def has_children(self, d: int) -> bool:
        if d >= 0:
            return bool(self.after.tree.child_ids(d)) or d in self._removed_under
        return bool(self.before.tree.child_ids(-1 - d))

    def lookup(self, path: str) -> int | None:
        """The displayed entry at `path` (live first, then removed)."""
        node = self.after.tree.lookup(path)
        if node is not None:
            return node
        old = self.before.tree.lookup(path)
        if old is None or -1 - old not in self._removed_set():
            return None
        return -1 - old

    def _removed_set(self) -> set[int]:
        if self._removed_cache is None:
            self._removed_cache = set(self.removed)
        return self._removed_cache

    # -- filtering -------------------------------------------------------------------

    def walk(self, cancel: Cancel | None = None) -> Iterator[tuple[int, str]]:
        """(display id, path) of every displayed entry below the root, depth first."""
        stack: list[tuple[int, str]] = [(ROOT, "")]
        seen = 0
        while stack:
            d, prefix = stack.pop()
            for kid in self.children(d):
                path = f"{prefix}/{self.name(kid)}"
                yield kid, path
                seen += 1
                if cancel is not None and seen % CANCEL_EVERY == 0 and cancel.is_set():
                    raise Cancelled("cancelled")
                if self.has_children(kid):
                    stack.append((kid, path))

    def visible(
        self,
        hidden: frozenset[Status],
        pattern: re.Pattern[str] | None,
        cancel: Cancel | None = None,
    ) -> set[int] | None:
        """The entries to show: those whose status is not hidden and whose full path the
        pattern finds, plus their directories. None means all of them. A pending entry
        may turn out modified or unchanged: it hides only when both are hidden."""
        if not hidden and pattern is None:
            return None
        if Status.MODIFIED in hidden and Status.UNCHANGED in hidden:
            hidden = hidden | {Status.PENDING}
        keep: set[int] = {ROOT}

        def mark(d: int | None) -> None:
            while d is not None and d not in keep:
                keep.add(d)
                d = self.parent(d)

        if pattern is None and Status.UNCHANGED in hidden:
            # Only changes can show: no need to look at the rest of the tree.
            with self.lock:  # a snapshot: settle() may change them meanwhile
                modified, pending = list(self.modified), list(self.pending)
            up = self.after.tree.parent
            above = {ROOT}  # the live directories above what shows
            for group, status in (
                (self.added, Status.ADDED),
                (modified, Status.MODIFIED),
                (pending, Status.PENDING),
            ):
                if status not in hidden:
                    # live entries (ids >= 0), hundreds of thousands when much is
                    # pending: kept in one call, their few distinct parents walked up
                    keep.update(group)
                    for d in {up[d] for d in group}:
                        while d not in above:
                            above.add(d)
                            d = up[d]
            keep |= above  # every kept entry has its directories kept
            if Status.REMOVED not in hidden:
                for d in self.removed:
                    mark(d)
            return keep
        for d, path in self.walk(cancel):
            if self.status(d) in hidden:
                continue
            if pattern is None or pattern.search(path):
                mark(d)
        return keep
