"""Sandbox directories: one layer, symlinks never followed out of the tree."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.run import Result, cli, proc
from tests.conftest import require_tool


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


# -- a sandbox behind a symlink (HPC: /home -> /gpfs/home) ------------------------------------

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def test_a_sandbox_reached_through_a_symlink_is_read(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    real = tmp_path / "gpfs" / "home" / "sandbox"
    (real / "etc").mkdir(parents=True)
    (real / "etc" / "os-release").write_text("NAME=test\n")
    (real / "root" / ".ssh").mkdir(parents=True)
    (real / "root" / ".ssh" / "id_ed25519").write_text(PRIVATE_KEY)
    blob = os.urandom(5000)
    (real / "a.bin").write_bytes(blob)
    (real / "b.bin").write_bytes(blob)
    (tmp_path / "home").symlink_to(tmp_path / "gpfs" / "home")
    via = tmp_path / "home" / "sandbox"
    r = cli(capsysbinary, "cat", str(via), "/etc/os-release")
    assert (r.code, r.out, r.err) == (0, b"NAME=test\n", "")
    docs = []
    for ref in (real, via):
        r = cli(capsysbinary, "inspect", "--analyze", "--json", str(ref))
        assert r.code == 0 and r.err == "", r.err
        docs.append(r.json()["analysis"])
    assert docs[0] == docs[1]
    assert docs[1]["duplicate_savings_bytes"] == 5000  # both copies were read and hashed
    assert docs[1]["secrets"] >= 1


# -- depth ------------------------------------------------------------------------------------


def test_a_chain_deeper_than_max_path_depth_exits_3_naming_it(tmp_path: Path) -> None:
    from tests.readers.test_directory import make_chain, remove_chain

    root = tmp_path / "chain"
    make_chain(root, 10_000)
    try:
        r = proc("ls", "--no-cache", str(root), timeout=300)
    finally:
        remove_chain(root)
    assert r.code == 3, r.err
    lines = r.err.splitlines()
    assert len(lines) == 1 and "4097 levels deep" in lines[0], r.err
    assert "limit max_path_depth=4096" in lines[0] and "LAYERSCOPE_MAX_PATH_DEPTH=N" in lines[0]


# -- what cannot be read ----------------------------------------------------------------------


def unprivileged(*args: str) -> Result:
    """layerscope as a process that permission bits apply to: as root, without the
    capabilities that bypass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    cmd = [*_unprivileged_prefix(), sys.executable, "-m", "layerscope", *args]
    r = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    return Result(r.returncode, r.stdout, r.stderr.decode("utf-8", "replace"))


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "sandbox"
    (root / "ok").mkdir(parents=True)
    (root / "ok" / "file").write_text("fine\n")
    (root / "locked" / "inner").mkdir(parents=True)
    (root / "locked" / "inner" / "hidden").write_text("not listed\n")
    (root / "ok" / "unreadable").write_text("secret\n")
    os.chmod(root / "ok" / "unreadable", 0)
    os.chmod(root / "locked", 0)
    yield root
    os.chmod(root / "locked", 0o755)


def test_an_unreadable_directory_makes_the_listing_say_it_is_incomplete(locked: Path) -> None:
    r = unprivileged("ls", "--json", "--no-cache", str(locked))
    assert r.code == 0, r.err
    doc = r.json()
    paths = {e["path"] for e in doc["entries"]}
    assert {"/ok", "/ok/file", "/ok/unreadable", "/locked"} <= paths
    assert not any(p.startswith("/locked/") for p in paths)
    warning = "/locked: directory not readable (Permission denied): its contents are missing"
    assert any(w.startswith(warning) for w in doc["warnings"]), doc["warnings"]
    assert warning in r.err  # said on stderr too, one line
    r = unprivileged("ls", "--no-cache", str(locked))
    assert r.code == 0 and warning in r.err and b"/ok/file" in r.out
    # the reference: GNU find cannot read it either, and says so
    find = subprocess.run(
        [*_unprivileged_prefix(), require_tool("find"), str(locked)], capture_output=True
    )
    assert find.returncode == 1 and b"Permission denied" in find.stderr


def _unprivileged_prefix() -> list[str]:
    """As root: setpriv, dropping the two capabilities from the bounding and inheritable
    sets (root keeps its uid, so the test's own 0700 directories stay reachable)."""
    if os.geteuid() != 0:
        return []
    caps = "-dac_override,-dac_read_search"
    return [require_tool("setpriv"), f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


def test_an_unreadable_file_is_listed_and_cat_says_why(locked: Path) -> None:
    r = unprivileged("cat", "--no-cache", str(locked), "/ok/unreadable")
    assert r.code == 3 and r.out == b""
    assert r.err.count("\n") == 1 and "/ok/unreadable: cannot read: Permission denied" in r.err
    r = unprivileged("cat", "--no-cache", str(locked), "/ok/file")
    assert (r.code, r.out) == (0, b"fine\n")
