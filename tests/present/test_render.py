"""jsonout.stream_json: a valid JSON document with one item a line, whatever the items hold."""

from __future__ import annotations

import json

import pytest

from layerscope.present import jsonout
from layerscope.present.entries import LsEntry


def _entry(path: str) -> LsEntry:
    return LsEntry(path, "file", 0o644, 0, 0, 1, 0, None, None, 1, {}, 0)


def test_one_item_a_line(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    # a newline, a quote and a comma-newline inside values; an undecodable name (a lone
    # surrogate) that only the fallback encoder can write
    paths = ["/a\nb", '/q"uote', "/x},\n{y", "/bad-\udcff", "/plain"]
    jsonout.stream_json({"schema": "t/1"}, "entries", (_entry(p) for p in paths))
    out = capsysbinary.readouterr().out
    doc = json.loads(out)
    assert [e["path"] for e in doc["entries"]] == paths
    lines = out.split(b"\n")
    assert lines[0] == b'{"schema":"t/1","entries":['
    assert [json.loads(ln.rstrip(b","))["path"] for ln in lines[1:-2]] == paths
    assert lines[-2:] == [b"]}", b""]


def test_empty_list(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    jsonout.stream_json({"schema": "t/1"}, "entries", iter(()))
    assert json.loads(capsysbinary.readouterr().out) == {"schema": "t/1", "entries": []}
