"""Hand-made hostile inputs that random mutation is unlikely to stumble on: small images
that would make a reader multiply work or memory (amplification), not merely fail.

Each must stop with a LayerscopeError quickly instead: a global PAX header whose xattrs
would be copied onto every member, two ext directories sharing one block (N directories
over one big extent would cost N times the image).
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import time
from pathlib import Path

import pytest

from layerscope.errors import CorruptImageError, LimitExceededError
from layerscope.readers.ext3.reader import Ext3FS
from layerscope.readers.tar.reader import iter_layer_entries
from tests.fuzz.seeds import ext3_seeds


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    n = len(body) + 1
    while len(str(n)) + len(body) != n:  # the length counts its own digits
        n += 1
    return str(n).encode() + body


def _member(info: tarfile.TarInfo, payload: bytes = b"") -> bytes:
    info.size = len(payload)
    pad = -len(payload) % 512
    return info.tobuf(format=tarfile.USTAR_FORMAT) + payload + bytes(pad)


def test_global_pax_xattrs_cannot_multiply() -> None:
    """~6 MiB of xattrs in one global ('g') header, then 400 members: 2.3 GiB of
    attributes if each member got its own copy. The layer is ~150 KiB gzipped."""
    records = b"".join(_pax_record(f"SCHILY.xattr.user.k{i:06d}", "v" * 64) for i in range(50_000))
    glob = tarfile.TarInfo("pax_global_header")
    glob.type = tarfile.XGLTYPE
    raw = _member(glob, records)
    raw += b"".join(_member(tarfile.TarInfo(f"f{i}")) for i in range(400)) + bytes(1024)
    blob = gzip.compress(raw)
    assert raw[156:157] == b"g" and len(blob) < 1 << 20
    start = time.monotonic()
    with pytest.raises(LimitExceededError, match="max_xattr_bytes"):
        for _ in iter_layer_entries(io.BytesIO(blob), "layer.tar.gz", len(blob)):
            pass
    assert time.monotonic() - start < 10


def test_ext_directories_sharing_a_block(tmp_path: Path) -> None:
    """/upper/home's block map replaced by /upper/etc's: a block claimed twice."""
    data = bytearray(ext3_seeds()[0].data)
    image = tmp_path / "overlay.ext3"
    image.write_bytes(data)
    with Ext3FS(str(image)) as fs:
        by_path = {e.path: e for e in fs.iter_entries("/upper")}
        sb = fs.sb

        def inode_pos(ino: int) -> int:
            fs._inode(ino)  # loads the group's descriptor
            group, index = divmod(ino - 1, sb.inodes_per_group)
            return fs._desc[group] * sb.block_size + index * sb.inode_size

        etc, home = inode_pos(by_path["/etc"].ino), inode_pos(by_path["/home"].ino)
    data[home + 0x28 : home + 0x28 + 60] = data[etc + 0x28 : etc + 0x28 + 60]  # i_block
    data[home + 0x04 : home + 0x08] = data[etc + 0x04 : etc + 0x08]  # i_size
    (size,) = struct.unpack_from("<I", data, etc + 0x04)
    assert size > 0
    image.write_bytes(bytes(data))
    with Ext3FS(str(image)) as fs, pytest.raises(CorruptImageError, match="is shared"):
        list(fs.iter_entries("/upper"))
