"""A real Debian minbase root filesystem as a sandbox: layerscope's listing equals what
`find` reports of the directory (every path, type, mode, owner, size and link target)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.run import proc

TYPES = {"f": "file", "d": "dir", "l": "symlink", "c": "char", "b": "block", "p": "fifo",
         "s": "socket"}  # fmt: skip


@pytest.mark.timeout(1800)  # the first real test pays for building the root filesystem
def test_minbase_listing_equals_find(minbase: Path) -> None:
    r = proc("ls", "--no-cache", "--json", str(minbase), timeout=600)
    assert r.code == 0, r.err
    got = {e["path"]: e for e in r.json()["entries"]}
    found = subprocess.run(
        ["find", ".", "-printf", r"%P\0%y\0%m\0%U\0%G\0%s\0%l\0"],
        cwd=minbase, capture_output=True, check=True,
    ).stdout.split(b"\0")  # fmt: skip
    want: dict[str, tuple[str, int, int, int, int, str | None]] = {}
    for i in range(0, len(found) - 1, 7):
        rel, kind, mode, uid, gid, size, link = (x.decode("utf-8", "surrogateescape")
                                                 for x in found[i : i + 7])  # fmt: skip
        path = "/" + rel if rel else "/"
        want[path] = (TYPES[kind], int(mode, 8), int(uid), int(gid), int(size),
                      link if kind == "l" else None)  # fmt: skip
    assert len(want) > 5000  # a real root filesystem, not a toy
    assert set(got) == set(want)
    for path, (type_, perm, owner, group, nbytes, target) in want.items():
        e = got[path]
        assert (e["type"], e["mode"], e["uid"], e["gid"], e["target"]) == (
            type_, perm, owner, group, target), path  # fmt: skip
        if type_ in ("file", "symlink"):
            assert e["size"] == nbytes, path
