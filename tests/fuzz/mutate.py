"""Byte-level mutations of a seed image, as hypothesis strategies.

One case is a seed plus a few edits, each aimed (most of the time) at the seed's metadata:
bit flips, random bytes, integer fields overwritten with boundary values, values spliced
from another field (an offset where a size belongs, a table start moved onto another
table), chunks copied over, zeroed runs, and a truncation. The same strategies drive the
pytest properties and, through `fuzz_one_input`, the long atheris runs.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.seeds import Seed

MAX_EDITS = 6


def interesting(data_len: int, width: int) -> list[int]:
    """Boundary values for an unsigned little-endian field of `width` bytes."""
    top = (1 << (8 * width)) - 1
    vals = {0, 1, 2, 3, 4, 7, 8, 9, 16, 255, 256, 4095, 4096, 8191, 8192, 32768, 65535}
    vals |= {top, top - 1, top >> 1, (top >> 1) + 1, data_len, data_len - 1, data_len + 1}
    vals |= {data_len // 2, 1 << 20, 1 << 24, (1 << 31) - 1, 1 << 31, 1 << 32, 1 << 40}
    return sorted(v & top for v in vals)


def _put(data: bytearray, off: int, width: int, value: int) -> None:
    if off >= 0 and off + width <= len(data):
        data[off : off + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")


def _get(data: bytearray, off: int, width: int) -> int:
    return int.from_bytes(data[off : off + width], "little")


@st.composite
def _offset(draw: st.DrawFn, seed: Seed, size: int) -> int:
    """An offset in a metadata region most of the time, anywhere otherwise."""
    if seed.regions and draw(st.integers(0, 9)) < 9:
        start, end = draw(st.sampled_from(seed.regions))
        end = min(end, size)
        if start < end:
            return draw(st.integers(start, end - 1))
    return draw(st.integers(0, max(0, size - 1)))


@st.composite
def _edit(draw: st.DrawFn, seed: Seed, data: bytearray) -> None:
    size = len(data)
    if size == 0:
        return
    op = draw(st.sampled_from(_OPS))
    if op in ("field", "splice") and seed.fields:
        off, width = draw(st.sampled_from(seed.fields))
        if op == "field":
            choice = draw(st.integers(0, 3))
            if choice == 0:
                value = _get(data, off, width) + draw(st.integers(-64, 64))
            elif choice == 1:
                value = draw(st.integers(0, (1 << (8 * width)) - 1))
            else:
                value = draw(st.sampled_from(interesting(size, width)))
        else:  # another field's value (a table start, a size) where this one was
            src, w2 = draw(st.sampled_from(seed.fields))
            value = _get(data, src, w2) + draw(st.sampled_from((0, 0, 1, -1, 2, 8, -8)))
        _put(data, off, width, value)
        return
    off = draw(_offset(seed, size))
    if op == "flip":
        data[off] ^= 1 << draw(st.integers(0, 7))
    elif op == "byte":
        data[off] = draw(st.integers(0, 255))
    elif op in ("int", "field", "splice"):
        width = draw(st.sampled_from((1, 2, 4, 8)))
        off -= off % width
        _put(data, off, width, draw(st.sampled_from(interesting(size, width))))
    elif op == "copy":
        src = draw(_offset(seed, size))
        n = draw(st.integers(1, 64))
        chunk = bytes(data[src : src + n])
        data[off : off + len(chunk)] = chunk[: max(0, size - off)]
    elif op == "zero":
        n = draw(st.integers(1, 512))
        data[off : off + n] = bytes(min(n, size - off))
    elif op == "random":
        n = draw(st.integers(1, 32))
        chunk = draw(st.binary(min_size=n, max_size=n))
        data[off : off + n] = chunk[: max(0, size - off)]


_OPS = ("flip", "flip", "byte", "int", "field", "field", "splice", "copy", "zero", "random")


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[Seed, ...]) -> bytes:
    """A seed with 1..MAX_EDITS edits and, sometimes, cut short."""
    seed = draw(st.sampled_from(seeds))
    data = bytearray(seed.data)
    for _ in range(draw(st.integers(1, MAX_EDITS))):
        draw(_edit(seed, data))
    if draw(st.integers(0, 9)) == 0:
        cut = draw(_offset(seed, len(data)))
        del data[cut:]
    return bytes(data)
