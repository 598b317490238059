"""Turn tree nodes into the JSON and `ls -l`-like text the commands print."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Iterable
from typing import Any

import msgspec

from layerscope.model.entry import EntryKind, perm_string
from layerscope.model.tree import FileTree
from layerscope.present.entries import image_json

__all__ = ["dump_json", "image_json", "ls_line", "safe_text", "stream_json"]

_LS_CHARS = [k.ls_char for k in EntryKind]
FLUSH_BYTES = 1 << 18


@functools.lru_cache(maxsize=4096)
def _stamp(mtime: int) -> str:
    # Images share a handful of mtimes: format each once.
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(mtime))
    except (OverflowError, OSError, ValueError):
        return str(mtime)  # beyond what the C library can show (year > 2^31...): as stored


@functools.lru_cache(maxsize=512)
def _mode(kind: int, mode: int) -> str:
    return _LS_CHARS[kind] + perm_string(mode)


def ls_line(tree: FileTree, node: int, path: str) -> str:
    rdev = tree.rdev.get(node)
    size = f"{rdev[0]},{rdev[1]:>4}" if rdev is not None else str(tree.rolled_size(node))
    owner = f"{tree.uid[node]}/{tree.gid[node]}"
    line = f"{_mode(tree.kind[node], tree.mode[node])} {owner:<8} {size:>12} "
    line += f"{_stamp(tree.mtime[node])} {path}"
    target = tree.target.get(node)
    if target is not None:
        line += f" -> {target}"
    return line


def safe_text(s: str) -> str:
    """Keep undecodable names printable on a terminal."""
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


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
