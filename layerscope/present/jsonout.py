"""JSON documents to stdout: whole (dump_json) or streamed item by item (stream_json).

Names that are not UTF-8 are kept as lone surrogates (surrogateescape); msgspec refuses
them, so those documents are encoded by json with \\udcXX escapes, which round-trip."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import msgspec

__all__ = ["dump_json", "stream_json"]

FLUSH_BYTES = 1 << 18


def _encode(obj: Any) -> bytes:
    try:
        return msgspec.json.encode(obj)
    except UnicodeEncodeError:
        # surrogateescape'd names are not valid UTF-8: JSON-escape them instead.
        return json.dumps(msgspec.to_builtins(obj), ensure_ascii=True).encode("ascii")


def dump_json(doc: dict[str, Any]) -> None:
    out = sys.stdout.buffer
    try:
        data = msgspec.json.format(msgspec.json.encode(doc), indent=1)
    except UnicodeEncodeError:
        # Undecodable names/labels: json escapes their lone surrogates ("\udcff"), which
        # msgspec.json.format would refuse to read back, so json indents them too.
        data = json.dumps(msgspec.to_builtins(doc), ensure_ascii=True, indent=1).encode("ascii")
    out.write(data)
    out.write(b"\n")
    out.flush()


def stream_json(head: dict[str, Any], key: str, items: Iterable[Any]) -> None:
    """Write `head` with `key` holding a list, one item per line, without holding the list."""
    out = sys.stdout.buffer
    opening = _encode({**head, key: []})
    assert opening.endswith(b"[]}")
    buf = bytearray(opening[:-2])
    encode_into = msgspec.json.Encoder().encode_into
    sep = b"\n"
    for item in items:
        mark = len(buf)
        buf += sep
        try:
            encode_into(item, buf, -1)
        except UnicodeEncodeError:
            del buf[mark:]
            buf += sep + _encode(item)
        sep = b",\n"
        if len(buf) >= FLUSH_BYTES:
            out.write(buf)
            buf.clear()
    buf += b"\n]}\n"
    out.write(buf)
    out.flush()
