"""A naive, test-only transcription of dive's efficiency definition.

Written from the definition (dive's `Efficiency`, `StackTreeRange`, `AddPath`, `Stack`),
not from layerscope's code: each layer is a flat {path: (size, is_dir)} dict, and the
lower stack is rebuilt from scratch for every whiteout, exactly as dive re-stacks
`trees[0].Copy()` + trees[0..i-1] each time. Slow (quadratic) on purpose: obviously right
beats fast here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from layerscope.model.entry import Entry, EntryKind

Info = tuple[int, bool]  # (tar header size, is a directory)


@dataclass
class RefResult:
    efficiency: float
    wasted: int
    layer_sizes: list[int]
    user_percent: float | None


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _key(path: str) -> list[bytes]:
    return [p.encode("utf-8", "surrogateescape") for p in _parts(path)]


def _add(d: dict[str, Info], path: str, info: Info) -> None:
    parts = _parts(path)
    for i, name in enumerate(parts):
        p = "/" + "/".join(parts[: i + 1])
        if p not in d:
            if name.startswith(".wh..wh.."):
                return
            d[p] = (0, False)
        if i == len(parts) - 1:
            d[p] = info


def _layer(entries: list[Entry], style: str) -> tuple[dict[str, Info], int]:
    d: dict[str, Info] = {}
    total = 0
    for e in entries:
        path = e.path
        if path in ("/", ""):
            continue
        if style == "overlayfs" and e.kind == EntryKind.CHAR and e.rdev == (0, 0):
            head, _, name = path.rpartition("/")
            path = head + "/.wh." + name
        size = e.size if e.kind == EntryKind.FILE and e.hardlink is None else 0
        total += size
        _add(d, path, (size, e.kind == EntryKind.DIR))
    return d, total


def _under(p: str, top: str) -> bool:
    return top == "/" or p == top or p.startswith(top + "/")


def _post_order(d: dict[str, Info]) -> list[str]:
    """Children (by name bytes) before their parent."""

    def rec(top: str) -> list[str]:
        prefix = "" if top == "/" else top
        kids = sorted(
            {prefix + "/" + _parts(p[len(prefix) :])[0] for p in d if p != top and _under(p, top)},
            key=_key,
        )
        out: list[str] = []
        for k in kids:
            out += rec(k)
        if top != "/":
            out.append(top)
        return out

    return rec("/")


def _strip(path: str) -> str:
    head, _, name = path.rpartition("/")
    if name.startswith(".wh."):
        name = name[4:]
    return (head + "/" + name).replace("//", "/")


def _stack(lower: dict[str, Info], upper: dict[str, Info]) -> None:
    for p in _post_order(upper):
        target = _strip(p)
        if p.rpartition("/")[2].startswith(".wh."):
            norm = "/" + "/".join(_parts(target))
            if norm != "/" and norm in lower:
                for q in [q for q in lower if _under(q, norm)]:
                    del lower[q]
        else:
            _add(lower, target, upper[p])


def reference_dive(layers: list[list[Entry]], styles: Sequence[str] | None = None) -> RefResult:
    trees: list[dict[str, Info]] = []
    sizes: list[int] = []
    for i, entries in enumerate(layers):
        tree, total = _layer(entries, styles[i] if styles else "oci")
        trees.append(tree)
        sizes.append(total)
    records: dict[str, list[int]] = {}  # path -> [count, cumulative, minimum]
    for i, tree in enumerate(trees):
        leaves = [p for p in tree if not any(q.startswith(p + "/") for q in tree)]
        leaves.sort(key=_key)
        for leaf in leaves:
            path = _strip(leaf)
            rec = records.setdefault(path, [0, 0, -1])
            if leaf.rpartition("/")[2].startswith(".wh."):
                stacked = dict(trees[0])
                for j in range(i):
                    _stack(stacked, trees[j])
                norm = "/" + "/".join(_parts(path))
                if norm == "/":
                    size = 0  # the root's payload is empty: not a directory
                elif norm not in stacked:
                    break
                else:
                    is_dir = stacked[norm][1]
                    size = (
                        sum(s for q, (s, _) in stacked.items() if _under(q, norm)) if is_dir else 0
                    )
            else:
                size = tree[leaf][0]
            rec[0] += 1
            rec[1] += size
            if rec[2] < 0 or size < rec[2]:
                rec[2] = size
    minimum = sum(r[2] for r in records.values())
    total = sum(r[1] for r in records.values())
    wasted = sum(r[1] for r in records.values() if r[0] >= 2)
    user = sum(sizes[1:])
    return RefResult(
        efficiency=1.0 if total == 0 else minimum / total,
        wasted=wasted,
        layer_sizes=sizes,
        user_percent=wasted / user if user else None,
    )
