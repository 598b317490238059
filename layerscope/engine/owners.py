"""Which package installed each file of an image, and whether the file is as it shipped.

    from layerscope.engine.owners import owners
    fo = owners(img)                      # reads the image's package databases once
    got = fo.owner("/usr/bin/bash")       # Owner | None
    if got is not None:
        package, manager, unchanged = got # ("bash", "dpkg", True)

The API, what it guarantees:

- `owners(img) -> FileOwners` reads the package databases of the image's merged tree
  (live files only: dpkg status/status.d, info/*.list and *.md5sums; apk installed;
  rpmdb.sqlite; Python dist-info RECORD; conda-meta/*.json) in one pass per layer. It
  never raises for a database it cannot read: what could not be read is in `.problems`.
- `FileOwners.owner(path) -> Owner | None`: None when no database lists the path.
  `Owner` is a 3-tuple (package name, manager, unchanged) with those attribute names;
  `manager` is one of dpkg, apk, rpm, python, conda. `unchanged` is True when the live
  file's bytes have the digest the database recorded, False when they differ, None when
  nothing can tell (no digest recorded, not a regular file, unreadable). The file is
  hashed on the first call for its path only, and the answer memoised.
- `FileOwners.record(path) -> FileRecord | None` answers without reading anything: the
  package (name, version, manager, environment), the recorded digest and whether it is
  a configuration file.
- `FileOwners.matches(path, data) -> bool | None` compares bytes the caller already
  holds (a file of a lower layer, a read pass of its own) with the record of `path`.
- `FileOwners.verify(nodes)` hashes, ahead of owner() calls, the files at these nodes
  (one pass per layer for tar layers).
- `FileOwners.packages` lists every installed package (manager, environment, name,
  version); `FileOwners.owned(path)` is `record(path) is not None`.
- Paths are absolute paths of the merged tree. A database's own spelling through a
  symlinked directory (dpkg's `/bin/bash` on a merged-/usr system, where the file lives at
  `/usr/bin/bash`) is resolved through the image's symlinks, so both spellings answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import NamedTuple

from layerscope.engine.image import Image
from layerscope.errors import LayerscopeError
from layerscope.model.entry import EntryKind
from layerscope.model.packages import (
    FILES,
    MAX_DB_BYTES,
    MAX_DB_TOTAL,
    Db,
    FileRecord,
    Package,
    build,
    kind_of,
)
from layerscope.model.packages.python import SITE_DIRS
from layerscope.model.tree import FileTree
from layerscope.readers.base import StreamedContents

__all__ = ["FileOwners", "Owner", "database_files", "owners", "owners_from", "read_files"]

MAX_HOPS = 40  # symlinks followed resolving one directory (the kernel's MAXSYMLINKS)


class Owner(NamedTuple):
    package: str
    manager: str
    unchanged: bool | None


class FileOwners:
    def __init__(self, img: Image, db: Db) -> None:
        self.img = img
        self.packages: list[Package] = db.packages
        self.problems: list[str] = db.problems
        self._resolver = _Resolver(img.tree)
        self._records = _canonical(self._resolver, db.files)
        self._verified: dict[str, bool | None] = {}

    def __len__(self) -> int:
        return len(self._records)

    def record(self, path: str) -> FileRecord | None:
        return self._records.get(path)

    def owned(self, path: str) -> bool:
        return path in self._records

    def owner(self, path: str) -> Owner | None:
        rec = self._records.get(path)
        if rec is None:
            return None
        if path not in self._verified:
            self._verified[path] = self._check(path, rec)
        return Owner(rec.package.name, rec.package.manager, self._verified[path])

    def matches(self, path: str, data: bytes) -> bool | None:
        rec = self._records.get(path)
        if rec is None or rec.algo is None or rec.digest is None:
            return None
        return hashlib.new(rec.algo, data).digest() == rec.digest

    def verify(self, nodes: Iterable[int]) -> None:
        """Hash the live files at `nodes` that have a recorded digest, one pass per layer."""
        tree = self.img.tree
        todo: dict[int, str] = {}
        for node in nodes:
            path = tree.path(node)
            rec = self._records.get(path)
            fresh = rec is not None and rec.algo is not None and path not in self._verified
            if fresh and tree.kind[node] == EntryKind.FILE and tree.lookup(path) == node:
                todo[node] = path
        for node, data in read_files(self.img, list(todo), limit=None).items():
            self._verified[todo[node]] = self.matches(todo[node], data)

    def _check(self, path: str, rec: FileRecord) -> bool | None:
        img, tree = self.img, self.img.tree
        node = tree.lookup(path)
        if node is None:
            real = self._resolver.path(path)
            node = tree.lookup(real) if real is not None else None
        if rec.algo is None or rec.digest is None or node is None:
            return None
        if tree.kind[node] != EntryKind.FILE:
            return None
        h = hashlib.new(rec.algo)
        try:
            for chunk in img.iter_content(node):
                h.update(chunk)
        except LayerscopeError:
            return None
        return h.digest() == rec.digest


def owners(img: Image) -> FileOwners:
    """The package databases of `img`'s merged tree, read once (see the module doc)."""
    paths, dist_dirs = database_files(img.tree)
    return owners_from(img, paths, dist_dirs, read_files(img, list(paths.values())))


def owners_from(
    img: Image, paths: dict[str, int], dist_dirs: list[str], data: dict[int, bytes]
) -> FileOwners:
    """owners() from database files a caller read itself (`database_files`' paths and
    dist directories, `data` by node): an analysis reads them in its own single pass."""
    return FileOwners(img, build({p: data[n] for p, n in paths.items() if n in data}, dist_dirs))


def database_files(tree: FileTree, depth: str = FILES) -> tuple[dict[str, int], list[str]]:
    """The live database files `model.packages.build` wants ({path: node}) and the Python
    dist-info/egg-info directories. Only a few directories can hold any: those are
    looked at, not every file of the tree. Files over MAX_DB_BYTES, and any past
    MAX_DB_TOTAL bytes in all, are left out (a crafted image cannot fill memory)."""
    found: dict[str, int] = {}
    dists: list[str] = []
    total = 0

    def take(path: str, node: int) -> None:
        nonlocal total
        if tree.kind[node] != EntryKind.FILE or kind_of(path, depth) is None:
            return
        size = tree.size[node]
        if size <= MAX_DB_BYTES and total + size <= MAX_DB_TOTAL:
            total += size
            found[path] = node

    for fixed in ("/var/lib/dpkg/status", "/lib/apk/db/installed",
                  "/usr/lib/apk/db/installed", "/var/lib/rpm/rpmdb.sqlite",
                  "/usr/lib/sysimage/rpm/rpmdb.sqlite"):  # fmt: skip
        node = tree.lookup(fixed)
        if node is not None:
            take(fixed, node)
    for folder in ("/var/lib/dpkg/info", "/var/lib/dpkg/status.d"):
        d = tree.lookup(folder)
        for name, node in (tree.kids(d) or {}).items() if d is not None else ():
            take(f"{folder}/{name}", node)
    names = tree.name
    for d in tree.dir_nodes():
        name = names[d]
        if (name not in SITE_DIRS and name != "conda-meta") or not tree.is_live(d):
            continue
        base = tree.path(d)
        for child, node in (tree.kids(d) or {}).items():
            path = f"{base}/{child}"
            if name == "conda-meta":
                take(path, node)
            elif child.endswith((".dist-info", ".egg-info")) and tree.is_dir(node):
                dists.append(path)
                record = tree.child(node, "RECORD")
                if record is not None:
                    take(f"{path}/RECORD", record)
    return found, dists


def read_files(img: Image, nodes: list[int], limit: int | None = MAX_DB_BYTES) -> dict[int, bytes]:
    """The whole contents of regular files (each at most `limit` bytes, else skipped),
    in one pass per layer when the layers are streams. Unreadable files are left out."""
    tree = img.tree
    nodes = [n for n in nodes if limit is None or tree.size[n] <= limit]
    out: dict[int, bytes] = {}
    reader = img.reader
    if isinstance(reader, StreamedContents):
        by_layer: dict[int, dict[int, list[int]]] = {}
        for n in nodes:
            if tree.loc[n] >= 0:
                by_layer.setdefault(tree.source_layer(n), {}).setdefault(tree.loc[n], []).append(n)
        for layer, locs in sorted(by_layer.items()):
            wanted = sorted((loc, tree.size[ns[0]]) for loc, ns in locs.items())
            try:
                for loc, chunks in reader.read_contents(layer, wanted):
                    data = b"".join(chunks)
                    for n in locs[loc]:
                        out[n] = data
            except LayerscopeError:
                continue
        nodes = [n for n in nodes if n not in out and tree.size[n] == 0]
    for n in nodes:
        try:
            out[n] = img.read(n)
        except LayerscopeError:
            continue
    return out


class _Resolver:
    """Paths resolved through the tree's symlinked directories (memoised per directory);
    the last component is never followed."""

    def __init__(self, tree: FileTree) -> None:
        self.tree = tree
        self.memo: dict[str, str | None] = {"": ""}

    def path(self, path: str) -> str | None:
        d, _, name = path.rpartition("/")
        real = self.dir(d)
        return None if real is None else f"{real}/{name}"

    def dir(self, d: str, hops: int = 0) -> str | None:
        memo, tree = self.memo, self.tree
        if d in memo:
            return memo[d]
        parent, _, name = d.rpartition("/")
        base = self.dir(parent, hops)
        out: str | None = None
        if base is not None and hops < MAX_HOPS:
            node = tree.lookup(base or "/")
            child = tree.child(node, name) if node is not None else None
            if child is not None and tree.kind[child] == EntryKind.SYMLINK:
                target = tree.target.get(child, "")
                joined = target if target.startswith("/") else f"{base}/{target}"
                out = self.dir(_normalise(joined), hops + 1)
            elif child is not None:
                out = f"{base}/{name}"
        memo[d] = out
        return out


def _canonical(resolver: _Resolver, files: dict[str, FileRecord]) -> dict[str, FileRecord]:
    """`files` keyed by the paths the tree holds them at; spellings through a symlinked
    directory (and those that resolve nowhere) are kept too."""
    out: dict[str, FileRecord] = {}
    for path, rec in files.items():
        out.setdefault(resolver.path(path) or path, rec)
    for path, rec in files.items():
        out.setdefault(path, rec)
    return out


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts) if parts else ""
