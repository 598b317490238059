"""Hard-link counts and directory mtimes on squashfs pairs mksquashfs builds in the test,
against sqfsdiff (and rdsquashfs for the link counts a directory inode stores)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.run import proc
from tests.conftest import require_tool

T0 = 1_700_000_000


def _stage(root: Path, later: bool) -> None:
    """Two stages of one tree: the later one adds a hard link to /d/f, a subdirectory
    to /e, touches the directory /d/sub (nothing else in it changes) and the root, and
    replaces /g's content by content of the same size."""
    (root / "d" / "sub").mkdir(parents=True)
    (root / "e").mkdir()
    (root / "d" / "f").write_text("hello\n")
    (root / "d" / "sub" / "inner").write_text("x")
    (root / "g").write_text("one\n" if not later else "two\n")
    (root / "h").write_text("h")
    os.link(root / "h", root / "h2")  # linked in both
    if later:
        os.link(root / "d" / "f", root / "d" / "f2")
        (root / "e" / "newsub").mkdir()
    for p in sorted(root.rglob("*"), reverse=True):
        os.utime(p, (T0, T0), follow_symlinks=False)
    if later:
        os.utime(root / "d" / "sub", (T0 + 3600, T0 + 3600))
    os.utime(root, (T0 + 60, T0 + 60) if later else (T0, T0))  # the root itself too


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    mksquashfs = require_tool("mksquashfs")
    out = []
    for name, later in (("a", False), ("b", True)):
        src = tmp_path / name
        src.mkdir()
        _stage(src, later)
        img = tmp_path / f"{name}.sqfs"
        subprocess.run(
            [mksquashfs, str(src), str(img), "-noappend", "-quiet", "-no-progress"],
            check=True,
            capture_output=True,
        )
        out.append(img)
    return out[0], out[1]


def _sqfsdiff(a: Path, b: Path, *flags: str) -> list[str]:
    r = subprocess.run(
        [require_tool("sqfsdiff"), *flags, "-a", str(a), "-b", str(b)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1, r.stderr  # different
    return r.stdout.splitlines()


def _diff(a: Path, b: Path, tmp: Path, *flags: str) -> dict[str, list[str]]:
    r = proc("diff", "--json", *flags, str(a), str(b), env={"XDG_CACHE_HOME": str(tmp)})
    assert r.code == 1, r.err
    return {m["path"]: m["changes"] for m in r.json()["modified"]}


def test_a_file_gaining_a_hard_link(pair: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = pair
    ref = _sqfsdiff(a, b)
    # sqfsdiff: the inode of a file with two links is an extended one
    assert [ln for ln in ref if ln.startswith("/d/f ")] == ["/d/f has an extended type"]
    default = _diff(a, b, tmp_path)
    assert "/d/f" not in default  # off by default: the users' diff stays as it was
    assert default == {"/g": ["content"]}
    got = _diff(a, b, tmp_path, "--compare", "links")
    assert got == {"/d/f": ["links"], "/g": ["content"]}  # /h and /h2: linked in both
    r = proc("diff", "--summary", "--compare", "links", str(a), str(b),
             env={"XDG_CACHE_HOME": str(tmp_path)})  # fmt: skip
    line = [ln for ln in r.out.decode().splitlines() if "/d/f " in ln or ln.endswith("/d/f")]
    assert len(line) == 1 and "[links]" in line[0] and "links 1 -> 2" in line[0]
    doc = proc("diff", "--json", "--compare", "links", str(a), str(b),
               env={"XDG_CACHE_HOME": str(tmp_path)}).json()  # fmt: skip
    mod = next(m for m in doc["modified"] if m["path"] == "/d/f")
    assert (mod["old"]["links"], mod["new"]["links"]) == (1, 2)


def test_a_directory_whose_only_change_is_its_mtime(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = pair
    ref = _sqfsdiff(a, b, "-T")
    stamped = {m[1] for ln in ref if (m := re.match(r"^(/\S*) has a different timestamp$", ln))}
    assert {"/d/sub", "/"} <= stamped  # the directory touched, nothing in it changed
    got = _diff(a, b, tmp_path, "--compare", "mtime")
    with_mtime = {p for p, changes in got.items() if "mtime" in changes}
    assert with_mtime == stamped
    assert got["/d/sub"] == ["mtime"] and got["/"] == ["mtime"]
    assert "/d/sub" not in _diff(a, b, tmp_path)  # off by default
    assert "/d/sub" not in _diff(a, b, tmp_path, "--compare", "mtime", "--semantic")


def test_directory_link_counts_are_what_squashfs_stores(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    rdsquashfs = require_tool("rdsquashfs")
    _, b = pair
    r = proc("ls", "--json", str(b), env={"XDG_CACHE_HOME": str(tmp_path)})
    entries = {e["path"]: e for e in r.json()["entries"]}
    dirs = [p for p, e in entries.items() if e["type"] == "dir"]
    assert len(dirs) == 5
    for path in [*dirs, "/d/f", "/h", "/g"]:
        stat = subprocess.run([rdsquashfs, "-s", path, str(b)], capture_output=True, text=True)
        assert stat.returncode == 0 and "Inode type:" in stat.stdout, stat.stderr
        # a basic file inode has no count: one link
        m = re.search(r"Hard link count: (\d+)", stat.stdout)
        assert entries[path]["links"] == (int(m[1]) if m else 1), path
    assert entries["/"]["links"] == 4  # ".", "..", and d/.., e/..
    assert entries["/e"]["links"] == 3
