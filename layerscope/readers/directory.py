"""Apptainer sandbox directories (and any plain directory) as a one-layer image.

Symlinks are recorded, never followed (so a symlink loop is just two symlinks); a directory
reached twice (bind mounts, loops) is not walked again; files that cannot be read are
reported as warnings, not fatal. Entries, path length and depth are capped like every
reader's (layerscope.limits)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator

from layerscope import limits
from layerscope.errors import CorruptImageError, ReaderError
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.image import ImageMeta, LayerInfo
from layerscope.readers.base import CHUNK, Traits
from layerscope.readers.detect import OpenOptions, no_tag


class SandboxReader:
    traits = Traits(random_access=True, inner_metadata=True)

    def __init__(self, path: str) -> None:
        self.root = os.path.abspath(path)
        if not os.path.isdir(self.root):
            raise ReaderError(f"{path}: not a directory")
        self._files: list[str] = []
        self._meta = ImageMeta(
            format="sandbox",
            source=path,
            layers=[LayerInfo(0, id=self.root, media_type="directory", stored_size=0)],
            carries_config=False,
        )

    def describe(self) -> ImageMeta:
        return self._meta

    def layer_identity(self, layer: int) -> str | None:
        return None  # a directory changes under us without a cheap way to notice

    def iter_entries(self, layer: int) -> Iterator[Entry]:
        if layer != 0:
            raise ReaderError(f"{self.root}: a sandbox has one layer, not {layer + 1}")
        self._files = []
        seen: set[tuple[int, int]] = set()
        st = os.lstat(self.root)
        seen.add((st.st_dev, st.st_ino))
        stack = [("", self.root)]
        max_entries = limits.get("max_entries")
        paths = limits.PathCap()
        count = 0
        while stack:
            rel_dir, abs_dir = stack.pop()
            try:
                with os.scandir(abs_dir) as it:
                    items = sorted(it, key=lambda d: d.name)
            except OSError as e:
                self._warn(rel_dir or "/", e)
                continue
            subdirs = []
            for item in items:
                rel = f"{rel_dir}/{item.name}"
                count += 1
                if count > max_entries:
                    raise limits.exceeded(
                        f"{self.root}: more than {max_entries} entries", "max_entries"
                    )
                if len(rel) > paths.quick:
                    paths.check(rel, self.root)
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError as e:
                    self._warn(rel, e)
                    continue
                entry = self._entry(rel, item.path, st)
                if entry is None:
                    continue
                yield entry
                if entry.kind == EntryKind.DIR:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        self._meta.warnings.append(
                            f"{rel}: directory seen before, not walked again"
                        )
                        continue
                    seen.add(key)
                    subdirs.append((rel, item.path))
            stack.extend(reversed(subdirs))

    def _entry(self, rel: str, full: str, st: os.stat_result) -> Entry | None:
        try:
            kind = EntryKind.from_st_mode(st.st_mode)
        except ValueError:
            self._meta.warnings.append(f"{rel}: unknown file type, skipped")
            return None
        target = None
        size = st.st_size if kind == EntryKind.FILE else 0
        loc = -1
        if kind == EntryKind.SYMLINK:
            try:
                target = os.readlink(full)
            except OSError as e:
                self._warn(rel, e)
                target = ""
            size = len(os.fsencode(target))
        elif kind == EntryKind.FILE:
            loc = len(self._files)
            self._files.append(rel)
        rdev = None
        if kind in (EntryKind.CHAR, EntryKind.BLOCK):
            rdev = (os.major(st.st_rdev), os.minor(st.st_rdev))
        return Entry(
            path=rel,
            kind=kind,
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            size=size,
            mtime=int(st.st_mtime),
            target=target,
            rdev=rdev,
            xattrs=_xattrs(full),
            ino=st.st_ino if kind == EntryKind.FILE and st.st_nlink > 1 else 0,
            loc=loc,
        )

    def _warn(self, rel: str, e: OSError) -> None:
        self._meta.warnings.append(f"{rel}: unreadable: {e.strerror or e}")

    def read_content(self, layer: int, loc: int, size: int) -> Iterator[bytes]:
        if not 0 <= loc < len(self._files):
            raise CorruptImageError(f"{self.root}: no file at locator {loc}")
        rel = self._files[loc]
        full = os.path.join(self.root, rel.lstrip("/"))
        # Never leave the sandbox: the path must resolve inside it and not be a symlink.
        if not os.path.realpath(full).startswith(self.root + os.sep):
            raise ReaderError(f"{rel}: resolves outside the sandbox")
        try:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ReaderError(f"{rel}: is a symlink now, not followed") from None
            raise ReaderError(f"{rel}: cannot read: {e.strerror}") from None
        with os.fdopen(fd, "rb") as f:
            while True:
                try:
                    chunk = f.read(CHUNK)
                except OSError as e:
                    raise ReaderError(f"{rel}: cannot read: {e.strerror}") from None
                if not chunk:
                    return
                yield chunk

    def close(self) -> None:
        self._files = []


def _xattrs(path: str) -> dict[str, bytes] | None:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return None
    out = {}
    for name in names:
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return out or None


def open_sandbox(path: str, tag: str | None, _opts: OpenOptions) -> SandboxReader:
    """The opener readers.detect names for directories that are no OCI layout."""
    no_tag(path, tag, "a sandbox directory")
    return SandboxReader(path)
