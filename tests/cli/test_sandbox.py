"""Sandbox directories: one layer, symlinks never followed out of the tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.run import cli


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    root = tmp_path / "sandbox"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("NAME=test\n")
    os.chmod(root / "etc" / "os-release", 0o640)
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_bytes(b"\x7fELF" + bytes(100))
    os.link(root / "bin" / "tool", root / "bin" / "tool2")
    (root / "escape").symlink_to("/etc/passwd")
    (root / "loop").symlink_to("loop")
    (root / "up").symlink_to("..")
    os.mkfifo(root / "fifo")
    os.setxattr(root / "etc" / "os-release", "user.origin", b"sandbox")
    return root


def test_sandbox_listing(capsysbinary: pytest.CaptureFixture[bytes], sandbox: Path) -> None:
    r = cli(capsysbinary, "ls", str(sandbox), "--json")
    assert r.code == 0, r.err
    doc = r.json()
    got = {e["path"]: e for e in doc["entries"]}
    assert doc["image"]["format"] == "sandbox"
    expected = {"/": os.lstat(sandbox)}
    for dirpath, dirnames, filenames in os.walk(sandbox):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            expected["/" + os.path.relpath(full, sandbox)] = os.lstat(full)
    assert sorted(got) == sorted(expected)
    for path, st in expected.items():
        assert got[path]["mode"] == st.st_mode & 0o7777, path
        assert got[path]["uid"] == st.st_uid
    assert got["/escape"]["type"] == "symlink" and got["/escape"]["target"] == "/etc/passwd"
    assert got["/loop"]["target"] == "loop"
    assert got["/fifo"]["type"] == "fifo"
    assert got["/bin/tool"]["links"] == 2 and got["/bin/tool2"]["links"] == 2
    assert got["/bin"]["size"] == 104  # hard-linked content counted once
    assert "user.origin" in got["/etc/os-release"]["xattrs"]


def test_sandbox_cat_never_follows_symlinks(
    capsysbinary: pytest.CaptureFixture[bytes], sandbox: Path
) -> None:
    r = cli(capsysbinary, "cat", str(sandbox), "/etc/os-release")
    assert r.code == 0 and r.out == b"NAME=test\n"
    r = cli(capsysbinary, "cat", str(sandbox), "/escape")
    assert r.code == 2 and b"root:" not in r.out
    r = cli(capsysbinary, "cat", str(sandbox), "/up/etc/passwd")
    assert r.code == 2 and r.out == b""  # not in the image (the symlink is not followed)
