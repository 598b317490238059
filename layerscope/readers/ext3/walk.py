"""Directory traversal for Ext3FS: the records of one directory, path lookup, and the
depth-first listing below a root, bounded against hostile images (entry and path limits,
directory cycles, directory blocks shared between directories).

It only follows names to inodes; turning an inode into an Entry (file sizes, symlink
targets, xattrs) is the filesystem's job, passed in as `make_entry`. Inconsistencies are
raised as `ExtBad`, which Ext3FS converts at its public boundary.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from layerscope import limits
from layerscope.errors import EncryptedError, EntryNotFoundError, where
from layerscope.model.entry import Entry, EntryKind, decode_name, encode_name
from layerscope.readers.ext3.blockmap import ReadBlock, Run
from layerscope.readers.ext3.dir import parse_dir_block
from layerscope.readers.ext3.inode import ENCRYPT_FL, INLINE_DATA_FL, Inode
from layerscope.readers.ext3.superblock import INCOMPAT_FILETYPE, ROOT_INO, ExtBad, Superblock

__all__ = ["DirWalker"]


@dataclass(frozen=True)
class DirWalker:
    """Directory access over one filesystem's readers: `inode` loads an inode by number,
    `runs` maps an inode's first blocks, `block` reads one block, `inline` gives an
    inline-data inode's bytes. `source` names the image in error messages."""

    sb: Superblock
    source: str
    inode: Callable[[int], Inode]
    runs: Callable[[Inode, int], Iterator[Run]]
    block: ReadBlock
    inline: Callable[[Inode], bytes]

    def children(self, inode: Inode, seen: set[int] | None = None) -> list[tuple[int, bytes]]:
        """(inode, name) records of a directory. `seen` collects the blocks parsed so far by
        a walk: a block met twice is refused, or N directory inodes over one big extent
        would make a small crafted image cost N times its size."""
        sb = self.sb
        if inode.flags & ENCRYPT_FL:
            raise ExtBad(f"directory inode {inode.ino} is encrypted", cls=EncryptedError)
        filetype = sb.has_incompat(INCOMPAT_FILETYPE)
        if inode.flags & INLINE_DATA_FL:
            # The first 4 bytes hold the parent's inode number; records follow, then go on
            # in the system.data xattr.
            data = self.inline(inode)
            return parse_dir_block(data[4:60], 1024, filetype, inode.ino) + (
                parse_dir_block(data[60:], 1024, filetype, inode.ino) if len(data) > 60 else []
            )
        if inode.size > sb.size_bytes:
            raise ExtBad(f"directory inode {inode.ino}: size {inode.size} exceeds the filesystem")
        nblocks = inode.size // sb.block_size
        out: list[tuple[int, bytes]] = []
        expected = 0
        for lblk, pblk, count, uninit in self.runs(inode, nblocks):
            if lblk != expected or uninit:
                raise ExtBad(f"directory inode {inode.ino}: hole at block {expected}")
            for i in range(min(count, nblocks - lblk)):
                if seen is not None:
                    if pblk + i in seen:
                        raise ExtBad(f"directory inode {inode.ino}: block {pblk + i} is shared")
                    seen.add(pblk + i)
                out += parse_dir_block(self.block(pblk + i), sb.block_size, filetype, inode.ino)
            expected = lblk + count
        if expected < nblocks:
            raise ExtBad(f"directory inode {inode.ino}: hole at block {expected}")
        return out

    def lookup(self, path: str) -> Inode:
        """The directory inode at normalized `path`; EntryNotFoundError if there is none."""
        inode = self.inode(ROOT_INO)
        for part in [p for p in path.split("/") if p]:
            if inode.fmt != stat.S_IFDIR:
                break
            want = encode_name(part)
            found = [ino for ino, name in self.children(inode) if name == want]
            if not found:
                raise EntryNotFoundError(f"{self.source}: no {path} in the ext filesystem")
            inode = self.inode(found[0])
        if inode.fmt != stat.S_IFDIR:
            if inode.ino == ROOT_INO:
                raise ExtBad(f"root inode has file type {inode.fmt:#o}, not a directory")
            raise EntryNotFoundError(f"{self.source}: {path} is not a directory")
        return inode

    def walk(
        self,
        top: Inode,
        hide: tuple[str, ...],
        make_entry: Callable[[str, Inode], Entry],
    ) -> Iterator[Entry]:
        """Entries below directory inode `top`, parents before children, in on-disk order;
        names in `hide` directly under `top` are skipped with their subtrees."""
        visited = {top.ino}
        # A file inode may be listed by any number of directory records: cap the count.
        max_entries = limits.get("max_entries")
        # Directory blocks this walk parsed: no two directories may share one.
        dir_blocks: set[int] = set()
        paths = limits.PathCap()
        count = 0
        stack: list[tuple[str, Iterator[tuple[int, bytes]]]] = [
            ("", iter(self.children(top, dir_blocks)))
        ]
        while stack:
            base, it = stack[-1]
            item = next(it, None)
            if item is None:
                stack.pop()
                continue
            ino, raw_name = item
            name = decode_name(raw_name)
            if len(stack) == 1 and name in hide:
                continue
            count += 1
            if count > max_entries:
                raise limits.exceeded(
                    f"{where(self.source)}: more than {max_entries} entries", "max_entries"
                )
            path = f"{base}/{name}"
            if len(path) > paths.quick:
                paths.check(path, where(self.source))
            inode = self.inode(ino)
            entry = make_entry(path, inode)
            yield entry
            if entry.kind is EntryKind.DIR:
                if ino in visited:
                    raise ExtBad(f"directory inode {ino} ({entry.path}) is reached twice: a cycle")
                visited.add(ino)
                stack.append((entry.path, iter(self.children(inode, dir_blocks))))
