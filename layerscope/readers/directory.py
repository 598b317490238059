"""Apptainer sandbox directories (and any plain directory) as a one-layer image.

The root is resolved once (a sandbox reached through a symlinked /home is read as the
directory it is), opened, and everything below is read relative to directory descriptors
(readers/directory_walk.py): symlinks are recorded, never followed (a symlink loop is just
two symlinks, `up -> ..` leads nowhere); a directory reached twice (bind mounts, loops) is
not walked again; depth is bounded by max_path_depth, not PATH_MAX. Whatever cannot be
read is named in ImageMeta.warnings: a listing that is incomplete says so. Entries, path
length and depth are capped like every reader's (layerscope.limits).

The listing is made once per reader, column-wise (no Entry per entry), and shared: the
tree adopts its columns (FileTree.adopt, never changed for a one-layer image), iter_entries
streams Entry records from it, and a file's locator is its row, whose path the columns
hold, so contents are opened through the same directories that were listed."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator

from layerscope.errors import CorruptImageError, ReaderError
from layerscope.model.columns import LayerColumns
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.image import ImageMeta, LayerInfo
from layerscope.readers.base import CHUNK, Cancel, Traits
from layerscope.readers.detect import OpenOptions, no_tag
from layerscope.readers.directory_walk import O_DIR, DirectoryWalk

MAX_WARNINGS = 100  # named one by one; beyond that, counted


class SandboxReader:
    traits = Traits(random_access=True, inner_metadata=True)

    def __init__(self, path: str) -> None:
        # Resolved once: every later path is relative to this directory's descriptor.
        self.root = os.path.realpath(path)
        if not os.path.isdir(self.root):
            raise ReaderError(f"{path}: not a directory")
        try:
            self._fd = os.open(self.root, O_DIR)
        except OSError as e:
            raise ReaderError(f"{path}: cannot read: {e.strerror or e}") from None
        self._cols: LayerColumns | None = None
        self._warned = 0
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
        yield from self._listing(layer, None).entries()

    def layer_columns(self, layer: int, cancel: Cancel | None) -> LayerColumns:
        return self._listing(layer, cancel)

    def _listing(self, layer: int, cancel: Cancel | None) -> LayerColumns:
        if layer != 0:
            raise ReaderError(f"{self.root}: a sandbox has one layer, not {layer + 1}")
        if self._cols is not None:
            return self._cols
        if self._fd < 0:
            raise ReaderError(f"{self.root}: the sandbox reader is closed")
        walk = DirectoryWalk(self._fd, self.root, self._warn, cancel)
        try:
            cols = walk.run()
        except OSError as e:
            raise ReaderError(f"{self.root}: cannot read: {e.strerror or e}") from None
        if self._warned > MAX_WARNINGS:
            more = self._warned - MAX_WARNINGS
            self._meta.warnings.append(
                f"{self.root}: {more} more places could not be read (the first "
                f"{MAX_WARNINGS} are named above)"
            )
        if walk.cancelled:
            return cols  # incomplete: not kept (the caller raises Cancelled)
        self._cols = cols
        return cols

    def _warn(self, message: str) -> None:
        self._warned += 1
        if self._warned <= MAX_WARNINGS:
            self._meta.warnings.append(message)

    def read_content(self, layer: int, loc: int, size: int) -> Iterator[bytes]:
        cols = self._cols
        if cols is None or not 0 < loc < len(cols) or cols.kind[loc] != EntryKind.FILE:
            raise CorruptImageError(f"{self.root}: no file at locator {loc}")
        names = []
        row = loc
        while row:
            names.append(cols.name[row])
            row = cols.parent[row]
        names.reverse()
        fd = self._open_file(names)
        rel = "/" + "/".join(names)
        with os.fdopen(fd, "rb") as f:
            while True:
                try:
                    chunk = f.read(CHUNK)
                except OSError as e:
                    raise ReaderError(f"{rel}: cannot read: {e.strerror}") from None
                if not chunk:
                    return
                yield chunk

    def _open_file(self, names: list[str]) -> int:
        """Open a listed file through the directories it was listed in, following no
        symlink on the way: it cannot resolve outside the sandbox."""
        rel = "/" + "/".join(names)
        if self._fd < 0:
            raise ReaderError(f"{rel}: the sandbox reader is closed")
        cur = self._fd
        try:
            for name in names[:-1]:
                nxt = os.open(name, O_DIR, dir_fd=cur)
                if cur != self._fd:
                    os.close(cur)
                cur = nxt
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = os.open(names[-1], flags, dir_fd=cur)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise ReaderError(
                    f"{rel}: changed since it was listed (a symlink now, or a directory on "
                    "its path is not one any more), not followed"
                ) from None
            raise ReaderError(f"{rel}: cannot read: {e.strerror}") from None
        finally:
            if cur != self._fd:
                os.close(cur)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ReaderError(f"{rel}: not a regular file any more")
        return fd

    def close(self) -> None:
        self._cols = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def open_sandbox(path: str, tag: str | None, _opts: OpenOptions) -> SandboxReader:
    """The opener readers.detect names for directories that are no OCI layout."""
    no_tag(path, tag, "a sandbox directory")
    return SandboxReader(path)
