"""Which package installed a file, and the digest it recorded: the one question the
portability report asks a package database ("is this a distribution file, unchanged?").

`ownership(img)` is the switch: it reads dpkg's database here (status, info/*.md5sums);
the per-file package ownership of layerscope.engine.owners replaces it where that exists,
with no other change to the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from layerscope.engine.image import Image
from layerscope.engine.portability_reads import read_small
from layerscope.model.entry import EntryKind
from layerscope.model.packages import parse_dpkg_status
from layerscope.model.portability.paths import resolve
from layerscope.model.portability.report import PackageRef
from layerscope.model.tree import FileTree

__all__ = ["Ownership", "Record", "ownership"]

DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_INFO = "/var/lib/dpkg/info"
MAX_DB_FILE = 64 << 20


@dataclass(frozen=True, slots=True)
class Record:
    package: PackageRef
    algo: str | None  # a hashlib name; None: no digest recorded
    digest: bytes | None


@dataclass(slots=True)
class Ownership:
    known: bool  # some database lists files (a path no record names was put by hand)
    packages: list[PackageRef] = field(default_factory=list)
    records: dict[str, Record] = field(default_factory=dict)  # resolved path -> record
    problems: list[str] = field(default_factory=list)

    def record(self, path: str) -> Record | None:
        return self.records.get(path)


def ownership(img: Image) -> Ownership:
    """The package databases of `img` (dpkg), each file by the path it has in the tree."""
    tree = img.tree
    out = Ownership(False)
    status_node = tree.lookup(DPKG_STATUS)
    if status_node is None or tree.kind[status_node] != EntryKind.FILE:
        return out
    info = tree.lookup(DPKG_INFO)
    lists = {
        node: name
        for name, node in sorted((tree.kids(info) or {}).items() if info is not None else ())
        if name.endswith(".md5sums") and tree.kind[node] == EntryKind.FILE
    }
    data = read_small(img, [status_node, *lists], MAX_DB_FILE)
    status = data.get(status_node)
    if status is None:
        out.problems.append(f"{DPKG_STATUS}: not read")
        return out
    versions = parse_dpkg_status(status.decode("utf-8", "replace"))
    out.packages = [PackageRef("dpkg", name, v) for name, v in sorted(versions.items())]
    dirs = _DirCache(tree)
    for node, name in lists.items():
        package = name.removesuffix(".md5sums").split(":", 1)[0]
        text = data.get(node)
        if package not in versions or text is None:
            continue  # removed, half-installed, or unreadable
        ref = PackageRef("dpkg", package, versions[package])
        for line in text.decode("utf-8", "surrogateescape").splitlines():
            digest, _, rel = line.partition("  ")
            if len(digest) != 32 or not rel:
                continue
            try:
                raw = bytes.fromhex(digest)
            except ValueError:
                continue
            out.records.setdefault(dirs.real("/" + rel.lstrip("/")), Record(ref, "md5", raw))
    out.known = bool(out.records)
    return out


class _DirCache:
    """A database path as the tree holds it: its directory resolved through symlinks
    (dpkg's /lib/x86_64-linux-gnu/libc.so.6 lives at /usr/lib/... on merged /usr)."""

    def __init__(self, tree: FileTree) -> None:
        self.tree = tree
        self.memo: dict[str, str] = {}

    def real(self, path: str) -> str:
        d, _, name = path.rpartition("/")
        got = self.memo.get(d)
        if got is None:
            node = resolve(self.tree, d or "/")
            got = self.memo[d] = self.tree.path(node) if node is not None else d
        return f"{got.rstrip('/')}/{name}"
