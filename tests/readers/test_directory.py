"""The sandbox reader against GNU find on trees the tests build: every entry's type, mode,
owner, size, mtime, link count and target; depth beyond PATH_MAX; a comb of pending
directories deeper than the descriptors it keeps open; a tree changed while it is read;
a sandbox reached through a symlink."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerscope.engine.loading import load_image
from layerscope.errors import LimitExceededError, ReaderError
from layerscope.model.entry import EntryKind
from layerscope.model.tree import FileTree
from layerscope.readers import OpenOptions, directory_walk
from layerscope.readers.directory import SandboxReader
from layerscope.readers.directory_walk import MAX_OPEN_DIRS, DirectoryWalk
from tests.conftest import require_tool

FIND_KIND = {"f": "file", "d": "dir", "l": "symlink", "p": "fifo", "c": "char", "b": "block"}
COMB = MAX_OPEN_DIRS * 3  # levels of the comb: more pending directories than open fds


def _build(root: Path) -> None:
    root.mkdir()
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_text("NAME=test\n")
    os.setxattr(root / "etc" / "os-release", "user.origin", b"sandbox\0\xff")
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_bytes(b"\x7fELF" + bytes(100))
    os.chmod(root / "bin" / "tool", 0o4755)
    os.link(root / "bin" / "tool", root / "bin" / "tool-hardlink")
    (root / "tmp").mkdir(mode=0o777)
    os.chmod(root / "tmp", 0o1777)
    (root / "escape").symlink_to("/etc/passwd")
    (root / "loop").symlink_to("loop")
    (root / "dangling").symlink_to("no/such/file")
    os.mkfifo(root / "fifo")
    if os.geteuid() == 0:
        os.mknod(root / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chown(root / "etc" / "os-release", 1234, 5678)
    os.mkdir(os.fsencode(root) + b"/caf\xe9 \x1b[2Jnon-utf8")
    (root / "new\nline").write_text("x")
    old = root / "old"
    old.write_text("1970")
    os.utime(old, ns=(0, -1_500_000_000))  # before the epoch, half a second off
    _comb(root / "comb")


def _comb(top: Path) -> None:
    """Each level holds the next level and three leaf directories with a file each: a level
    whose leaves come after the next level in listing order waits (its descriptor wanted)
    while every deeper level is listed."""
    d = top
    for i in range(COMB):
        for leaf in "abc":
            (d / f"leaf{i}{leaf}").mkdir(parents=True)
            (d / f"leaf{i}{leaf}" / "f").write_text(str(i))
        d = d / f"level{i}"
    d.mkdir()


def _find(root: Path) -> dict[str, dict[str, object]]:
    find = require_tool("find")
    fmt = "%y\\0%m\\0%U\\0%G\\0%s\\0%Ts\\0%n\\0%l\\0%P\\0"  # %Ts: whole seconds
    out = subprocess.run(
        [find, str(root), "-mindepth", "1", "-printf", fmt], capture_output=True, check=True
    ).stdout.split(b"\0")[:-1]
    got: dict[str, dict[str, object]] = {}
    for i in range(0, len(out), 9):
        kind, mode, uid, gid, size, mtime, links, target, rel = out[i : i + 9]
        path = "/" + rel.decode("utf-8", "surrogateescape")
        got[path] = {
            "kind": FIND_KIND[kind.decode()],
            "mode": int(mode, 8),
            "uid": int(uid),
            "gid": int(gid),
            "size": int(size),
            "mtime": int(mtime),
            "links": int(links),
            "target": target.decode("utf-8", "surrogateescape") if kind == b"l" else None,
        }
    return got


def _ours(tree: FileTree) -> dict[str, dict[str, object]]:
    got: dict[str, dict[str, object]] = {}
    counts = tree.link_counts()
    for node, path in tree.walk_paths():
        e = tree.entry(node, path)
        got[path] = {
            "kind": e.kind.json_name,
            "mode": e.mode,
            "uid": e.uid,
            "gid": e.gid,
            "size": e.size,
            "mtime": e.mtime,
            "links": counts.get(tree.link_group.get(node, -1), 1),
            "target": e.target,
        }
    return got


def _load(path: Path | str) -> FileTree:
    img = load_image(str(path), OpenOptions(use_cache=False))
    img.close()
    assert img.meta.warnings == [], img.meta.warnings
    return img.tree


def test_listing_equals_find(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    _build(root)
    want = _find(root)
    got = _ours(_load(root))
    assert sorted(got) == sorted(want)
    assert len(want) > 2 * COMB  # the comb is there, every level of it
    for path, w in want.items():
        g = got[path]
        for key in ("kind", "mode", "uid", "gid", "mtime", "target"):
            assert g[key] == w[key], (path, key)
        if w["kind"] in ("file", "symlink"):
            assert g["size"] == w["size"], path
        if w["kind"] == "file":
            assert g["links"] == w["links"], path
    assert got["/old"]["mtime"] == -2
    assert got["/bin/tool"]["links"] == 2 and got["/bin/tool"]["mode"] == 0o4755


def test_xattrs_and_contents(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    _build(root)
    img = load_image(str(root), OpenOptions(use_cache=False))
    try:
        tree = img.tree
        for node, path in tree.walk_paths():
            full = os.fsencode(root) + os.fsencode(path)
            want = {k: os.getxattr(full, k, follow_symlinks=False) for k in _lxattrs(full)}
            assert (tree.xattrs.get(node) or {}) == want, path
            if tree.kind[node] == EntryKind.FILE:
                assert img.read(node) == Path(os.fsdecode(full)).read_bytes(), path
        assert tree.xattrs[tree.lookup("/etc/os-release") or 0] == {"user.origin": b"sandbox\0\xff"}
        deepest = tree.lookup("/comb/" + "/".join(f"level{i}" for i in range(COMB - 1)))
        assert deepest is not None
        leaf = tree.lookup(img.tree.path(deepest) + f"/leaf{COMB - 1}c/f")
        assert leaf is not None and img.read(leaf) == str(COMB - 1).encode()
    finally:
        img.close()


def _lxattrs(path: bytes) -> list[str]:
    try:
        return os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        assert e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP)
        return []


def test_a_symlinked_root_is_read_as_its_directory(tmp_path: Path) -> None:
    """On HPC /home is often a symlink: the sandbox behind it is read, contents too."""
    root = tmp_path / "real" / "sandbox"
    root.parent.mkdir()
    _build(root)
    (tmp_path / "home").symlink_to(tmp_path / "real")
    via = tmp_path / "home" / "sandbox"
    img = load_image(str(via), OpenOptions(use_cache=False))
    try:
        assert _ours(img.tree) == _ours(_load(root))
        node = img.tree.lookup("/etc/os-release")
        assert node is not None and img.read(node) == b"NAME=test\n"
    finally:
        img.close()


# -- depth ------------------------------------------------------------------------------------


def make_chain(root: Path, depth: int) -> None:
    """root/d/d/.../d/leaf, `depth` directories deep, made through descriptors (the path
    is far longer than PATH_MAX)."""
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.close(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def remove_chain(root: Path) -> None:
    """Remove a chain too deep for shutil.rmtree (recursive) one level at a time: the
    second level is moved up beside the first, which is then empty."""
    top, spare = root, root.with_name(root.name + "-next")
    while True:
        if (top / "leaf").exists():
            (top / "leaf").unlink()
        if not (top / "d").exists():
            top.rmdir()
            return
        os.rename(top / "d", spare)
        top.rmdir()
        top, spare = spare, top


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "chain"
    make_chain(root, 10_000)
    yield root
    remove_chain(root)


def _depth_of(tree: FileTree, node: int) -> int:
    depth = 0
    while node:
        node = tree.parent[node]
        depth += 1
    return depth


def test_a_chain_deeper_than_path_max_is_read_whole(
    chain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    find = require_tool("find")
    depths = subprocess.run(
        [find, str(chain), "-mindepth", "1", "-printf", "%d\\n"], capture_output=True, check=True
    ).stdout.split()
    monkeypatch.setenv("LAYERSCOPE_MAX_PATH_DEPTH", "20000")
    tree = _load(chain)
    assert len(tree) - 1 == len(depths) == 10_001
    leaf = max(range(len(tree)), key=lambda n: _depth_of(tree, n))
    assert tree.name[leaf] == "leaf" and _depth_of(tree, leaf) == max(map(int, depths)) == 10_001


def test_max_path_depth_stops_a_deep_chain(chain: Path) -> None:
    with pytest.raises(LimitExceededError, match="max_path_depth") as info:
        _load(chain)
    assert "4097 levels deep" in str(info.value)


# -- a tree that changes while it is read -----------------------------------------------------


def test_a_directory_swapped_for_a_symlink_mid_walk_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    (root / "a" / "inner").mkdir(parents=True)
    (root / "a" / "inner" / "file").write_text("inside")
    outside = tmp_path / "outside"
    (outside / "inner").mkdir(parents=True)
    (outside / "inner" / "secret").write_text("outside")
    calls: list[int] = []

    def swap_after_root() -> bool:
        # polled before each directory: once the root is listed, replace /a by a symlink
        calls.append(1)
        if len(calls) == 2:
            os.rename(root / "a", tmp_path / "a-moved")
            (root / "a").symlink_to(outside)
        return False

    warnings: list[str] = []
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        walk = DirectoryWalk(fd, str(root), warnings.append, swap_after_root)
        cols = walk.run()
    finally:
        os.close(fd)
    assert len(calls) >= 2 and not walk.cancelled
    names = set(cols.name[1:])
    assert "a" in names and "secret" not in names and "inner" not in names
    assert any(w.startswith("/a: directory changed while it was read") for w in warnings)


def test_a_file_swapped_for_a_symlink_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "motd").write_text("hello\n")
    reader = SandboxReader(str(root))
    try:
        cols = reader.layer_columns(0, None)
        row = cols.name.index("motd")
        (root / "etc" / "motd").unlink()
        (root / "etc" / "motd").symlink_to("/etc/passwd")
        with pytest.raises(ReaderError, match="symlink now"):
            b"".join(reader.read_content(0, row, 6))
        os.rename(root / "etc", tmp_path / "etc-moved")
        (root / "etc").symlink_to(tmp_path / "etc-moved")
        with pytest.raises(ReaderError, match="symlink now"):
            b"".join(reader.read_content(0, row, 6))
    finally:
        reader.close()


def test_waiting_directories_are_closed_and_opened_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More directories wait than descriptors are kept: the least recently used are closed
    and opened again from their parents, never more than MAX_OPEN_DIRS at once."""
    opened: list[int] = []
    real_open = directory_walk._OpenDirs.open

    def counting_open(self: directory_walk._OpenDirs, d: object, parent_fd: int) -> int:
        fd = real_open(self, d, parent_fd)  # type: ignore[arg-type]
        opened.append(len(self.lru))
        return fd

    monkeypatch.setattr(directory_walk._OpenDirs, "open", counting_open)
    _comb(tmp_path / "comb")
    tree = _load(tmp_path / "comb")
    dirs = sum(1 for n in tree.walk() if tree.kind[n] == EntryKind.DIR)
    assert dirs == 4 * COMB
    assert len(opened) > dirs, "no directory was opened again"
    assert max(opened) <= MAX_OPEN_DIRS


# -- memory --------------------------------------------------------------------------------

# Loads a sandbox in a child: peak RSS (kB) after the imports, then after the load. VmHWM,
# not getrusage's ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a child of a
# large pytest process would start at its parent's peak.
LOAD_CHILD = """
import sys
from layerscope.engine.loading import load_image
from layerscope.readers import OpenOptions
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
before = hwm()
img = load_image(sys.argv[1], OpenOptions(use_cache=False))
print(len(img.tree) - 1, before, hwm())
"""


@pytest.mark.slow
def test_a_large_flat_sandbox_loads_within_its_memory_budget(tmp_path: Path) -> None:
    """0.1.0 took ~1,200 bytes an entry for empty files in one directory (an Entry, a
    DirEntry and a path per entry); the column-wise listing ~220. The bound is generous."""
    n = 100_000
    root = tmp_path / "flat"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(n):
            os.close(os.open(f"file-{i:06d}", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    r = subprocess.run(
        [sys.executable, "-c", LOAD_CHILD, str(root)], capture_output=True, timeout=600
    )
    assert r.returncode == 0, r.stderr.decode()
    entries, before_kb, after_kb = map(int, r.stdout.split())
    assert entries == n
    per_entry = (after_kb - before_kb) * 1024 / n
    assert per_entry < 500, f"{per_entry:.0f} bytes an entry"
