"""Read-only ext2/ext3/ext4 reader for SIF overlay partitions.

`apptainer overlay create` makes an ext3 image holding /upper and /work; the SIF reader
lists /upper as the image's top layer through `Ext3FS.iter_entries("/upper")`. Pure Python,
positional reads only (thread-safe, never writes). Sibling modules: ext3_super (geometry,
features), ext3_inode (inode fields), ext3_xattr (extended attributes, ACLs), ext3_map
(block maps and extents), ext3_dir (directory records), ext3_walk (directory lookup and
the tree walk).

Locators: `Entry.loc` is the inode number; `read_content(loc, size)` streams that inode.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from types import TracebackType

from layerscope import limits
from layerscope.errors import (
    CorruptImageError,
    EncryptedError,
    ReaderError,
    UsageError,
    where,
)
from layerscope.model.entry import (
    KIND_OF_IFMT,
    Entry,
    EntryKind,
    decode_name,
    normalize_path,
)
from layerscope.readers.base import CHUNK
from layerscope.readers.ext3.blockmap import Run, blockmap_runs, extent_runs
from layerscope.readers.ext3.inode import ENCRYPT_FL, EXTENTS_FL, INLINE_DATA_FL, Inode
from layerscope.readers.ext3.superblock import (
    INCOMPAT_EA_INODE,
    INCOMPAT_LARGEDIR,
    INCOMPAT_RECOVER,
    SUPERBLOCK_OFFSET,
    SUPERBLOCK_SIZE,
    ExtBad,
    Superblock,
    descriptor_pos,
    inode_table_block,
    parse_superblock,
)
from layerscope.readers.ext3.walk import DirWalker
from layerscope.readers.ext3.xattr import check_xattr_block, collect_xattrs, inline_data_rest

__all__ = ["Ext3FS"]

_ZEROS = bytes(CHUNK)
MAX_SYMLINK = 65536
_XATTR_CACHE_MAX = 256
_PARSE_ERRORS = (struct.error, IndexError, ValueError, OverflowError, UnicodeError)


class Ext3FS:
    """An ext2/3/4 filesystem at byte `offset` of `path`, `size` bytes long (to EOF if None).

    `source` names the image in error messages (e.g. "x.sif (partition 4)"). Raises
    CorruptImageError for an inconsistent superblock, UnsupportedFormatError naming an
    incompat feature it does not implement (compression, journal_dev, dirdata).
    """

    def __init__(
        self, path: str, offset: int = 0, size: int | None = None, source: str | None = None
    ) -> None:
        self._source = source or path
        self._offset = offset
        self._desc: dict[int, int] = {}
        self._xattr_blocks: dict[int, bytes] = {}
        self._xbudget = limits.XattrBudget(where(self._source))
        self._targets: dict[int, tuple[int, str]] = {}  # symlink inode -> (size, target)
        try:
            self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file or directory") from None
        except OSError as e:
            raise ReaderError(f"{self._source}: cannot open: {e.strerror}") from None
        try:
            file_size = os.fstat(self._fd).st_size
            self._size = file_size - offset if size is None else size
            if offset < 0 or self._size < 0 or offset + self._size > file_size:
                raise ExtBad(
                    f"ext partition of {self._size} bytes runs past the end of the file "
                    f"({file_size} bytes): truncated",
                    0,
                )
            if self._size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE:
                raise ExtBad(f"partition too small for an ext superblock ({self._size} bytes)", 0)
            raw = self._pread(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE)
            self.sb: Superblock = parse_superblock(raw, self._size)
        except ExtBad as e:
            self.close()
            raise self._typed(e) from None
        except _PARSE_ERRORS as e:
            self.close()
            raise CorruptImageError(f"{where(self._source)}: bad ext superblock: {e}") from e
        except BaseException:
            self.close()
            raise

    # -- public API ------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return self.sb.volume_name

    @property
    def needs_recovery(self) -> bool:
        """True when the journal holds unreplayed transactions: recent writes may be missing."""
        return self.sb.has_incompat(INCOMPAT_RECOVER)

    def iter_entries(
        self, root: str = "/", hide: tuple[str, ...] = ("lost+found",)
    ) -> Iterator[Entry]:
        """Entries below directory `root`, paths relative to it ("/etc/hostname"), parents
        before children, in on-disk directory order. Names in `hide` directly under `root`
        are skipped with their subtrees. EntryNotFoundError if `root` is not a directory."""
        try:
            yield from self._walk(normalize_path(root), hide)
        except ExtBad as e:
            raise self._typed(e) from None
        except _PARSE_ERRORS as e:
            raise CorruptImageError(f"{where(self._source)}: inconsistent ext data: {e}") from e

    def read_content(self, loc: int, size: int) -> Iterator[bytes]:
        """The first `size` bytes of regular file inode `loc`, in chunks; holes read as zeros."""
        try:
            inode = self._inode(loc)
            if inode.fmt != stat.S_IFREG:
                raise ExtBad(f"inode {loc} is not a regular file")
            self._check_file_size(inode)
            yield from self._data(inode, min(max(size, 0), inode.size))
        except ExtBad as e:
            raise self._typed(e) from None
        except _PARSE_ERRORS as e:
            raise CorruptImageError(f"{where(self._source)}: inconsistent ext data: {e}") from e

    def close(self) -> None:
        fd, self._fd = getattr(self, "_fd", -1), -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> Ext3FS:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- raw access ------------------------------------------------------------------------

    def _typed(self, e: ExtBad) -> ReaderError:
        off = None if e.pos is None else self._offset + e.pos
        return e.cls(f"{where(self._source, off)}: {e.msg}")

    def _pread(self, pos: int, n: int) -> bytes:
        if pos < 0 or pos + n > self._size:
            raise ExtBad(f"read of {n} bytes past the end of the ext partition (truncated?)", pos)
        if self._fd < 0:
            raise ReaderError(f"{self._source}: ext reader is closed")
        try:
            data = os.pread(self._fd, n, self._offset + pos)
        except OSError as e:
            raise ReaderError(f"{where(self._source, self._offset + pos)}: {e.strerror}") from e
        if len(data) != n:
            raise ExtBad(f"short read: {len(data)} of {n} bytes (file truncated?)", pos)
        return data

    def _block(self, block: int) -> bytes:
        if block >= self.sb.blocks_count:
            raise ExtBad(f"block {block} past the end of the filesystem")
        return self._pread(block * self.sb.block_size, self.sb.block_size)

    def _inode(self, ino: int) -> Inode:
        sb = self.sb
        if not 1 <= ino <= sb.inodes_count:
            raise ExtBad(f"inode number {ino} out of range 1..{sb.inodes_count}")
        group, index = divmod(ino - 1, sb.inodes_per_group)
        table = self._desc.get(group)
        if table is None:
            desc = self._pread(descriptor_pos(sb, group), sb.desc_size)
            table = self._desc[group] = inode_table_block(sb, desc, group)
        pos = table * sb.block_size + index * sb.inode_size
        try:
            return Inode(ino, self._pread(pos, sb.inode_size), sb.has_incompat(INCOMPAT_LARGEDIR))
        except ExtBad as e:
            e.pos = pos if e.pos is None else e.pos
            raise

    # -- data ------------------------------------------------------------------------------

    def _runs(self, inode: Inode, nblocks: int) -> Iterator[Run]:
        sb = self.sb
        if inode.flags & EXTENTS_FL:
            return extent_runs(inode.i_block, nblocks, sb.blocks_count, self._block, inode.ino)
        return blockmap_runs(inode.i_block, nblocks, sb.block_size, sb.blocks_count, self._block)

    def _check_file_size(self, inode: Inode) -> None:
        bs = self.sb.block_size
        if inode.flags & EXTENTS_FL:
            limit = (1 << 32) * bs
        else:
            per = bs // 4
            limit = (12 + per + per**2 + per**3) * bs
        if inode.size > limit:
            raise ExtBad(f"inode {inode.ino}: size {inode.size} exceeds the format's maximum")

    def _data(self, inode: Inode, size: int) -> Iterator[bytes]:
        """Stream the first `size` bytes of an inode's data, holes as zeros."""
        if inode.flags & ENCRYPT_FL:
            raise ExtBad(f"inode {inode.ino} is encrypted", cls=EncryptedError)
        if inode.flags & INLINE_DATA_FL:
            data = self._inline(inode)[:size]
            yield data
            yield from _zeros(size - len(data))
            return
        bs = self.sb.block_size
        done = 0
        for lblk, pblk, count, uninit in self._runs(inode, -(-size // bs)):
            start = lblk * bs
            if start < done:
                raise ExtBad(f"inode {inode.ino}: block runs overlap at file block {lblk}")
            if start >= size:
                break
            yield from _zeros(start - done)
            length = min(count * bs, size - start)
            if uninit:  # preallocated, never written: reads as zeros
                yield from _zeros(length)
            else:
                for off in range(0, length, CHUNK):
                    yield self._pread(pblk * bs + off, min(CHUNK, length - off))
            done = start + length
        yield from _zeros(size - done)

    def _inline(self, inode: Inode) -> bytes:
        """Inline data: i_block's 60 bytes, continued in the in-inode "system.data" xattr."""
        return inode.i_block + inline_data_rest(inode)

    def _symlink_target(self, inode: Inode) -> bytes:
        if not 0 < inode.size <= MAX_SYMLINK:
            raise ExtBad(f"symlink inode {inode.ino}: target length {inode.size} invalid")
        if inode.is_fast_symlink(self.sb.block_size * self.sb.cluster_ratio):
            return inode.i_block[: inode.size]
        return b"".join(self._data(inode, inode.size))

    # -- listing -------------------------------------------------------------------------

    def _walk(self, root: str, hide: tuple[str, ...]) -> Iterator[Entry]:
        dirs = DirWalker(self.sb, self._source, self._inode, self._runs, self._block, self._inline)
        top = dirs.lookup(root)
        self._xbudget = limits.XattrBudget(where(self._source))
        self._targets.clear()  # fresh per walk
        yield from dirs.walk(top, hide, self._entry)

    def _entry(self, path: str, inode: Inode) -> Entry:
        kind = KIND_OF_IFMT.get(inode.fmt)
        if kind is None:
            raise ExtBad(f"inode {inode.ino} ({path}): unknown file type {inode.fmt:#o}")
        size = 0
        target: str | None = None
        rdev: tuple[int, int] | None = None
        if kind is EntryKind.FILE:
            self._check_file_size(inode)
            size = inode.size
        elif kind is EntryKind.SYMLINK:
            # One decoded target per inode, however many directory records name it.
            hit = self._targets.get(inode.ino)
            if hit is None:
                raw = self._symlink_target(inode)
                hit = self._targets[inode.ino] = (len(raw), decode_name(raw))
            size, target = hit
        elif kind is EntryKind.CHAR or kind is EntryKind.BLOCK:
            rdev = inode.rdev()
        return Entry(
            path,
            kind,
            mode=inode.mode & 0o7777,
            uid=inode.uid,
            gid=inode.gid,
            size=size,
            mtime=inode.mtime,
            target=target,
            rdev=rdev,
            xattrs=self._xattrs(inode),
            ino=inode.ino,
            loc=inode.ino,
        )

    # -- extended attributes ---------------------------------------------------------------

    def _xattrs(self, inode: Inode) -> dict[str, bytes] | None:
        ea = self._ea_value if self.sb.has_incompat(INCOMPAT_EA_INODE) else None
        found = collect_xattrs(inode, self._xattr_block, ea)
        self._xbudget.spend(found)  # one shared xattr block may serve every inode
        return found

    def _xattr_block(self, block: int) -> bytes:
        data = self._xattr_blocks.get(block)
        if data is None:
            data = self._block(block)
            check_xattr_block(data, block)
            if len(self._xattr_blocks) >= _XATTR_CACHE_MAX:
                self._xattr_blocks.clear()
            self._xattr_blocks[block] = data
        return data

    def _ea_value(self, vinum: int, size: int) -> bytes:
        holder = self._inode(vinum)
        if holder.fmt != stat.S_IFREG or holder.size < size:
            raise ExtBad(f"xattr value inode {vinum} is not a regular file of {size} bytes")
        return b"".join(self._data(holder, size))


def _zeros(n: int) -> Iterator[bytes]:
    while n > 0:
        k = min(n, CHUNK)
        yield _ZEROS[:k]
        n -= k
