"""Paths resolved inside an image's tree the way its dynamic loader would: through
symlinks (merged-/usr's `/lib64 -> usr/lib64`, `ld-linux-x86-64.so.2 -> ...`), never
leaving the tree, with a hop limit against loops."""

from __future__ import annotations

from layerscope.model.entry import EntryKind
from layerscope.model.tree import ROOT, FileTree

__all__ = ["resolve"]

MAX_HOPS = 40  # the kernel's MAXSYMLINKS


def resolve(tree: FileTree, path: str) -> int | None:
    """The node `path` names once every symlink is followed (None: dangling, a loop, or
    missing). `..` stops at the root, as in a chroot."""
    todo = [p for p in path.split("/") if p]
    todo.reverse()
    node, trail, hops = ROOT, [ROOT], 0
    while todo:
        part = todo.pop()
        if part == ".":
            continue
        if part == "..":
            if len(trail) > 1:
                trail.pop()
            node = trail[-1]
            continue
        child = tree.child(node, part)
        if child is None:
            return None
        if tree.kind[child] == EntryKind.SYMLINK:
            hops += 1
            if hops > MAX_HOPS:
                return None
            target = tree.target.get(child, "")
            if target.startswith("/"):
                node, trail = ROOT, [ROOT]
            todo.extend(reversed([p for p in target.split("/") if p]))
            continue
        node = child
        trail.append(node)
    return node
