"""Deterministic synthetic file trees, written as a tar stream (for tar2sqfs and friends).

The shape imitates a container root file system: a few top-level directories, a few
thousand leaf directories of ~100 entries each, mostly small files with some symlinks and
hard links, names of varied length. The same `entries` always gives the same bytes.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator
from typing import IO

MTIME = 1_700_000_000
_WORDS = ("lib", "share", "locale", "python3", "site", "doc", "man", "include", "x86_64")


def _entries(total: int) -> Iterator[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]:
    """Yield TarInfo (dirs, links) or (TarInfo, content) for files, `total` entries in all."""
    made = 0
    top = 0
    while made < total:
        top_name = f"{_WORDS[top % len(_WORDS)]}{top}"
        yield _dir(top_name)
        made += 1
        for leaf in range(60):
            if made >= total:
                return
            leaf_dir = f"{top_name}/pkg-{leaf:03d}-{_WORDS[(leaf + top) % len(_WORDS)]}"
            yield _dir(leaf_dir)
            made += 1
            for i in range(99):
                if made >= total:
                    return
                seed = (top * 7919 + leaf * 104729 + i * 131) & 0xFFFF
                name = f"{leaf_dir}/{_WORDS[seed % len(_WORDS)]}-{i:03d}{'-x' * (seed % 9)}"
                if i % 20 == 19:
                    info = tarfile.TarInfo(name + ".link")
                    info.type = tarfile.SYMTYPE
                    info.linkname = f"{_WORDS[(seed + 1) % len(_WORDS)]}-{i - 1:03d}"
                    info.mode = 0o777
                    info.mtime = MTIME
                    yield info
                elif i % 50 == 7:
                    info = tarfile.TarInfo(name + ".hard")
                    info.type = tarfile.LNKTYPE
                    info.linkname = f"{leaf_dir}/{_first_file(top, leaf)}"
                    info.mtime = MTIME
                    yield info
                else:
                    body = (name.encode() + b"\n") * (seed % 5)
                    info = tarfile.TarInfo(name)
                    info.size = len(body)
                    info.mode = 0o755 if seed % 7 == 0 else 0o644
                    info.uid = info.gid = 0 if seed % 11 else 1000
                    info.mtime = MTIME + seed
                    yield info, body
                made += 1
        top += 1


def _first_file(top: int, leaf: int) -> str:
    seed = (top * 7919 + leaf * 104729) & 0xFFFF
    return f"{_WORDS[seed % len(_WORDS)]}-000{'-x' * (seed % 9)}"


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = MTIME
    return info


def write_tar(
    out: IO[bytes], entries: int, extra: Iterable[tuple[tarfile.TarInfo, bytes]] = ()
) -> None:
    """Write the tree as an uncompressed tar stream to `out`, `extra` members after it."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT) as tar:
        for item in _entries(entries):
            if isinstance(item, tuple):
                info, body = item
                tar.addfile(info, io.BytesIO(body))
            else:
                tar.addfile(item)
        for info, body in extra:
            tar.addfile(info, io.BytesIO(body))
