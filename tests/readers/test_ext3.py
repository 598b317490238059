"""Ext3FS against the real e2fsprogs: debugfs views of the SIF overlay fixture (the ext3
partition of with-overlay.sif)."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerscope.errors import EntryNotFoundError
from layerscope.model.entry import EntryKind
from layerscope.readers.ext3.reader import Ext3FS
from tests.readers.ext3_reference import (
    SIF,
    content,
    debugfs,
    debugfs_ls,
    debugfs_tree,
    debugfs_xattrs,
    entries,
    overlay_span,
)


@pytest.fixture()
def overlay_fs() -> Iterator[Ext3FS]:
    off, size = overlay_span()
    with Ext3FS(str(SIF), off, size, source="with-overlay.sif (overlay)") as fs:
        yield fs


def test_overlay_upper_listing_matches_debugfs(overlay_fs: Ext3FS, overlay_img: Path) -> None:
    ref = debugfs_tree(overlay_img, "/upper")
    got = entries(overlay_fs, "/upper")
    by_path = {e.path: e for e in got}
    assert set(by_path) == set(ref)
    for path, (ino, mode, uid, gid, size) in ref.items():
        e = by_path[path]
        assert (e.ino, e.kind, e.mode, e.uid, e.gid) == (
            ino,
            EntryKind.from_st_mode(mode),
            stat.S_IMODE(mode),
            uid,
            gid,
        ), path
        if e.kind is not EntryKind.DIR:
            assert e.size == int(size), path
    seen = {""}
    for e in got:  # parents before children
        assert e.path.rpartition("/")[0] in seen, e.path
        seen.add(e.path)


def test_overlay_inode_details_match_debugfs_stat(overlay_fs: Ext3FS, overlay_img: Path) -> None:
    for e in entries(overlay_fs, "/upper"):
        text = debugfs(overlay_img, f"stat /upper{e.path}").decode()
        m = re.search(r"\bmtime: 0x([0-9a-f]+)", text)
        assert m and e.mtime == int(m[1], 16), e.path
        dev = re.search(r"Device major/minor number: ([0-9a-f]+):([0-9a-f]+)", text)
        if dev:
            assert e.rdev == (int(dev[1], 16), int(dev[2], 16)), e.path
        else:
            assert e.rdev is None
        assert (e.xattrs or {}) == debugfs_xattrs(overlay_img, f"/upper{e.path}"), e.path


def test_overlay_manifest_facts(overlay_fs: Ext3FS) -> None:
    by_path = {e.path: e for e in entries(overlay_fs, "/upper")}
    motd = by_path["/etc/motd"]
    assert (motd.kind, motd.rdev) == (EntryKind.CHAR, (0, 0))
    opaque = by_path["/usr/share/doc/layerscope-base"]
    assert opaque.xattrs == {"trusted.overlay.opaque": b"y"}
    note = by_path["/home/user/overlay-note.txt"]
    assert (note.uid, note.gid, note.size) == (1000, 1000, 700)
    tool = by_path["/opt/tools/bin/tool"]
    assert (tool.mode, tool.size) == (0o755, 5000)
    assert content(overlay_fs, by_path["/etc/hostname"]) == b"layerscope-overlay\n"


def test_overlay_content_matches_debugfs_cat(overlay_fs: Ext3FS, overlay_img: Path) -> None:
    files = [e for e in entries(overlay_fs, "/upper") if e.kind is EntryKind.FILE]
    assert len(files) == 4
    for e in files:
        want = debugfs(overlay_img, f"cat /upper{e.path}")
        assert content(overlay_fs, e) == want, e.path
        assert content(overlay_fs, e, 3) == want[:3]


def test_overlay_root_hides_work_and_lost_found(overlay_fs: Ext3FS, overlay_img: Path) -> None:
    top = {name for _, _, _, _, name, _ in debugfs_ls(overlay_img, "/")}
    assert top == {"lost+found", "upper", "work"}

    def names(hide: tuple[str, ...]) -> set[str]:
        return {e.path for e in entries(overlay_fs, "/", hide) if e.path.count("/") == 1}

    assert names(("lost+found", "work")) == {"/upper"}
    assert names(("lost+found",)) == {"/upper", "/work"}
    assert names(()) == {"/lost+found", "/upper", "/work"}
    every = entries(overlay_fs, "/", ("lost+found", "work"))
    assert len(every) == 1 + len(entries(overlay_fs, "/upper"))


def test_overlay_missing_root_is_entry_not_found(overlay_fs: Ext3FS) -> None:
    with pytest.raises(EntryNotFoundError):
        entries(overlay_fs, "/nope")
    with pytest.raises(EntryNotFoundError):
        entries(overlay_fs, "/upper/etc/hostname")
    assert overlay_fs.label == "layerscope-ovl"
