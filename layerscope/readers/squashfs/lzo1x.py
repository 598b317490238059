"""A pure-Python LZO1X block decoder (the format liblzo2's lzo1x_decompress_safe reads).

Used when python-lzo (sdist only, needs a compiler) is not installed. Every read and every
back-reference is bounds-checked, and the output never grows past `limit`.

The stream is a sequence of instructions, each selected by its first byte `t`:
  t < 16 after a match:      short match (2 or 3 bytes) close behind
  t < 16 otherwise:          a run of literals (length, extended with zero bytes)
  16 <= t < 32:              M4 match, distance 16 KiB..48 KiB; distance 16384 = end
  32 <= t < 64:              M3 match, distance up to 16 KiB
  t >= 64:                   M2 match, distance up to 2 KiB, length 3..8
Every match carries 0-3 trailing literals in the low two bits of its distance field.
"""

from __future__ import annotations

Buffer = bytes | bytearray | memoryview

_M2_MAX_OFFSET = 0x0800


class LzoError(ValueError):
    """The input is not a valid LZO1X stream, or it inflates past the limit."""


def decompress(data: Buffer, limit: int) -> bytes:
    """Decode one LZO1X block into at most `limit` bytes."""
    src = bytes(data)
    n = len(src)
    out = bytearray()
    if n < 3:
        raise LzoError("input shorter than an end marker")
    ip = 0
    # `state` is what the previous instruction left behind: 0 = nothing (stream start),
    # 1-3 = that many trailing literals after a match, 4 = a literal run.
    state = 0
    try:
        first = src[0]
        if first > 17:
            ip = 1
            run = first - 17
            _check_room(out, run, limit)
            if ip + run > n:
                raise LzoError("literal run past end of input")
            out += src[ip : ip + run]
            ip += run
            state = run if run < 4 else 4
        while True:
            t = src[ip]
            ip += 1
            if t < 16:
                if state == 0:
                    if t == 0:
                        ip, t = _extended(src, ip, 15)
                    run = t + 3
                    _check_room(out, run, limit)
                    if ip + run > n:
                        raise LzoError("literal run past end of input")
                    out += src[ip : ip + run]
                    ip += run
                    state = 4
                    continue
                if state != 4:
                    dist = 1 + (t >> 2) + (src[ip] << 2)
                    length = 2
                else:
                    dist = 1 + _M2_MAX_OFFSET + (t >> 2) + (src[ip] << 2)
                    length = 3
                ip += 1
                trailing = t & 3
            elif t >= 64:
                dist = 1 + ((t >> 2) & 7) + (src[ip] << 3)
                ip += 1
                length = (t >> 5) + 1
                trailing = t & 3
            elif t >= 32:
                length = t & 31
                if length == 0:
                    ip, length = _extended(src, ip, 31)
                length += 2
                word = src[ip] | (src[ip + 1] << 8)
                ip += 2
                dist = 1 + (word >> 2)
                trailing = word & 3
            else:
                length = t & 7
                if length == 0:
                    ip, length = _extended(src, ip, 7)
                length += 2
                word = src[ip] | (src[ip + 1] << 8)
                ip += 2
                dist = ((t & 8) << 11) + (word >> 2)
                if dist == 0:
                    if length != 3:
                        raise LzoError("malformed end-of-stream marker")
                    if ip != n:
                        raise LzoError(f"{n - ip} bytes of input after the end marker")
                    return bytes(out)
                dist += 0x4000
                trailing = word & 3
            _copy_match(out, dist, length, limit)
            state = trailing
            if trailing:
                _check_room(out, trailing, limit)
                if ip + trailing > n:
                    raise LzoError("literals past end of input")
                out += src[ip : ip + trailing]
                ip += trailing
    except IndexError:
        raise LzoError("input ends inside an instruction") from None


def _extended(src: bytes, ip: int, base: int) -> tuple[int, int]:
    """Read a length extension: each zero byte adds 255, then a final non-zero byte."""
    zeros = 0
    while src[ip] == 0:
        zeros += 1
        ip += 1
    return ip + 1, base + zeros * 255 + src[ip]


def _check_room(out: bytearray, count: int, limit: int) -> None:
    if len(out) + count > limit:
        raise LzoError(f"output exceeds {limit} bytes")


def _copy_match(out: bytearray, dist: int, length: int, limit: int) -> None:
    _check_room(out, length, limit)
    start = len(out) - dist
    if start < 0:
        raise LzoError("back-reference before the start of the output")
    if dist >= length:
        out += out[start : start + length]
    else:
        # Overlapping copy repeats the last `dist` bytes (run-length style).
        pattern = bytes(out[start:])
        reps, rest = divmod(length, dist)
        out += pattern * reps + pattern[:rest]
