"""Block decompressors for squashfs: every compression library import lives here.

Each decompressor is `(data, limit) -> bytes`: it inflates one self-contained block and
never produces (or allocates for) more than `limit` bytes, because size fields in an image
are attacker-controlled. Library exceptions become `DecompressError`; the caller adds the
file and byte offset. Libraries are imported only when an image needs them, so listing a
gzip image never pays for importing zstandard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from layerscope.errors import MissingCodecError

Buffer = bytes | bytearray | memoryview
Decompressor = Callable[[Buffer, int], bytes]

# squashfs superblock compressor ids (squashfs_fs.h; 2 is the legacy LZMA1 "alone" format)
COMPRESSOR_NAMES = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}

# liblzma would otherwise size its dictionary from a (hostile) header; squashfs
# dictionaries are at most the 1 MiB block size, so 64 MiB leaves room for any real image.
_LZMA_MEMLIMIT = 64 << 20


class DecompressError(Exception):
    """A block could not be decompressed (corrupt data or over its size limit)."""


def _too_big(name: str, limit: int) -> DecompressError:
    return DecompressError(f"{name} block inflates to more than {limit} bytes")


def _zlib() -> Decompressor:
    import zlib

    mod: Any
    try:
        from isal import isal_zlib as mod
    except ImportError:  # isal is a dependency, but a plain zlib still reads every image
        mod = zlib
    errors: tuple[type[BaseException], ...] = (zlib.error, mod.error)

    def decompress(data: Buffer, limit: int) -> bytes:
        try:
            d = mod.decompressobj()
            out: bytes = d.decompress(data, limit)
            if not d.eof:
                # The output may have filled `limit` just before the adler32 trailer.
                if d.decompress(d.unconsumed_tail, 1):
                    raise _too_big("gzip", limit)
                if not d.eof:
                    raise DecompressError("gzip block is truncated")
        except errors as e:
            raise DecompressError(f"gzip: {e}") from e
        return out

    return decompress


def _lzma(fmt_name: str) -> Decompressor:
    import lzma

    fmt = lzma.FORMAT_XZ if fmt_name == "xz" else lzma.FORMAT_ALONE

    def decompress(data: Buffer, limit: int) -> bytes:
        try:
            d = lzma.LZMADecompressor(fmt, memlimit=_LZMA_MEMLIMIT)
            out = d.decompress(data, limit)
            if not d.eof:
                if d.decompress(b"", 1):
                    raise _too_big(fmt_name, limit)
                if not d.eof:
                    raise DecompressError(f"{fmt_name} block is truncated")
        except (lzma.LZMAError, EOFError) as e:
            raise DecompressError(f"{fmt_name}: {e}") from e
        return out

    return decompress


def _lz4() -> Decompressor:
    try:
        import lz4.block as lz4_block
    except ImportError as e:
        raise MissingCodecError(
            "lz4 decompression needs the Python package 'lz4' (pip install lz4)"
        ) from e

    def decompress(data: Buffer, limit: int) -> bytes:
        # High-compression (-Xhc) blocks use the same block format: one decoder fits both.
        try:
            out: bytes = lz4_block.decompress(data, uncompressed_size=limit)
        except lz4_block.LZ4BlockError as e:
            raise DecompressError(f"lz4: {e}") from e
        return out

    return decompress


def _zstd() -> Decompressor:
    try:
        import zstandard
    except ImportError as e:
        raise MissingCodecError(
            "zstd decompression needs the Python package 'zstandard' (pip install zstandard)"
        ) from e
    dctx = zstandard.ZstdDecompressor()

    def decompress(data: Buffer, limit: int) -> bytes:
        try:
            # zstandard sizes its output from the frame header when one is given, ignoring
            # max_output_size: check the declared size first.
            declared = zstandard.frame_content_size(data)
            if declared > limit:
                raise _too_big("zstd", limit)
            out: bytes = dctx.decompress(data, max_output_size=limit)
        except zstandard.ZstdError as e:
            raise DecompressError(f"zstd: {e}") from e
        if len(out) > limit:
            raise _too_big("zstd", limit)
        return out

    return decompress


_LZO_REASONS = {
    "InputOverrun": "block is truncated",
    "LookbehindOverrun": "a match reaches before the start of the block",
    "InputNotConsumed": "bytes follow the end of the block",
    "OutputOverrun": "output overrun",
}


def _lzo() -> Decompressor:
    # lzallright (LZO1X in safe Rust) ships wheels for Linux x86_64/aarch64 and macOS; it
    # replaced python-lzo (sdist only: a compiler and liblzo2-dev) and a pure-Python decoder.
    try:
        from lzallright import LZOCompressor, LZOError
    except ImportError as e:
        raise MissingCodecError(
            "lzo decompression needs the Python package 'lzallright' (pip install lzallright)"
        ) from e
    inflate = LZOCompressor.decompress

    def decompress(data: Buffer, limit: int) -> bytes:
        # lzallright takes `limit` as the first output buffer and grows it while the stream
        # asks for more: it has no output cap. LZO1X turns a stored byte into at most ~255
        # (a zero byte extends a match by 255), so a hostile block costs, for a moment, at
        # most twice 255x its stored size (8 KiB metadata block: 4 MiB; a data block is at
        # most the 1 MiB block size: 512 MiB) before the check below refuses it.
        try:
            out: bytes = inflate(data, limit)
        except LZOError as e:
            reason = str(e.args[0] if e.args else e).rsplit(".", 1)[-1]
            raise DecompressError(f"lzo: {_LZO_REASONS.get(reason, 'invalid block')}") from e
        if len(out) > limit:
            raise _too_big("lzo", limit)
        return out

    return decompress


def decompressor(name: str) -> Decompressor:
    """Return a fresh decompressor for a squashfs compressor name.

    Raises MissingCodecError (without a file location: the caller adds it) when the
    binding is not installed, and ValueError for a name that is not a squashfs compressor.
    """
    if name == "gzip":
        return _zlib()
    if name in ("xz", "lzma"):
        return _lzma(name)
    if name == "lz4":
        return _lz4()
    if name == "zstd":
        return _zstd()
    if name == "lzo":
        return _lzo()
    raise ValueError(f"unknown compressor {name!r}")
