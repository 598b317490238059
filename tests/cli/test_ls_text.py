"""`ls` text against `unsquashfs -lln` on an image mksquashfs builds in the test: every line
equal (columns, padding, local time under a non-UTC TZ, devices, long owners), except the
two documented differences: a directory's size (the bytes under it, as `du -s`) and the
root's name (`/`, where `unsquashfs -d ''` prints an empty one)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.run import proc
from tests.conftest import require_tool

# +05:30 has no daylight saving: a minute-exact shift away from UTC; St John's is -03:30
# with daylight saving (times in July and January get different offsets)
ZONES = ["Asia/Kolkata", "America/St_Johns"]
LINE = re.compile(r"^(\S{10}) (\S+?/\S+?)( +)(\S+|\s*\d+,\s*\d+) (\d+-\d\d-\d\d \d\d:\d\d) (.*)$")


def _tree(root: Path) -> None:
    (root / "etc" / "sub").mkdir(parents=True)
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (root / "etc" / "sub" / "big").write_bytes(b"x" * 123_456)
    os.link(root / "etc" / "hosts", root / "etc" / "hosts.link")
    (root / "etc" / "rel").symlink_to("hosts")
    (root / "name with spaces").write_text("s")
    (root / "empty-dir").mkdir()
    os.mkfifo(root / "fifo")
    os.chmod(root / "etc" / "hosts", 0o4751)
    # mtimes in summer and in winter (St John's: -02:30 and -03:30), and before 1970+1 day
    os.utime(root / "etc" / "hosts", (1_720_000_000, 1_720_000_000))
    os.utime(root / "etc" / "sub" / "big", (1_705_000_000, 1_705_000_000))
    os.utime(root / "fifo", (50_000, 50_000))


def _build(tmp_path: Path) -> Path:
    mksquashfs = require_tool("mksquashfs")
    src = tmp_path / "src"
    src.mkdir()
    _tree(src)
    img = tmp_path / "img.sqfs"
    pseudo = [
        "/dev d 755 0 0",
        "/dev/null c 666 0 0 1 3",
        "/dev/sda9 b 660 0 6 8 9",
        "/dev/tty c 620 1234567 7654321 4 1",  # a long owner: the size column shrinks
        "/dev/hd b 660 4294967294 4294967290 8 200",  # longer still: one space is left
        "/etc/hosts m 4751 1000 100",
    ]
    args = [mksquashfs, str(src), str(img), "-noappend", "-quiet", "-no-progress"]
    for p in pseudo:
        args += ["-p", p]
    subprocess.run(args, check=True, capture_output=True)
    return img


def _unsquashfs(img: Path, tz: str) -> list[str]:
    out = subprocess.run(
        [require_tool("unsquashfs"), "-lln", "-d", "", str(img)],
        check=True,
        capture_output=True,
        env={**os.environ, "TZ": tz},
    ).stdout
    return out.decode().splitlines()


@pytest.mark.parametrize("tz", ZONES)
def test_ls_text_lines_up_with_unsquashfs(tmp_path: Path, tz: str) -> None:
    img = _build(tmp_path)
    want = _unsquashfs(img, tz)
    r = proc("ls", "--no-cache", str(img), env={"TZ": tz, "XDG_CACHE_HOME": str(tmp_path)})
    assert r.code == 0, r.err
    got = r.out.decode().splitlines()
    assert len(got) == len(want) == 15
    compared_dirs = 0
    for ours, theirs in zip(got, want, strict=True):
        if not theirs.startswith("d"):
            assert ours == theirs
            continue
        m_ours, m_theirs = LINE.match(ours), LINE.match(theirs + ("/" if theirs[-1] == " " else ""))
        assert m_ours and m_theirs, (ours, theirs)
        # everything but the size; the date starts in the same column
        assert m_ours[1] == m_theirs[1] and m_ours[2] == m_theirs[2]
        assert m_ours[5] == m_theirs[5]
        assert ours.index(m_ours[5]) == theirs.index(m_theirs[5]) == 39
        assert m_ours[6] == (m_theirs[6] if m_theirs[6] != "/" else "/")
        compared_dirs += 1
    assert compared_dirs == 5  # /, /dev, /empty-dir, /etc, /etc/sub
    # the directory size is the regular-file bytes under it
    sizes = {ln.rsplit(" ", 1)[1]: ln.split()[2] for ln in got if ln.startswith("d")}
    assert sizes["/etc"] == str(123_456 + 20)  # hosts and hosts.link are one inode
    assert sizes["/empty-dir"] == "0"


def test_ls_text_follows_tz(tmp_path: Path) -> None:
    """Not UTC unless TZ says so: the same image lists other dates under another zone,
    exactly as unsquashfs's do."""
    img = _build(tmp_path)
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    utc = proc("ls", str(img), "/etc/hosts", env={**env, "TZ": "UTC"}).out.decode()
    india = proc("ls", str(img), "/etc/hosts", env={**env, "TZ": "Asia/Kolkata"}).out.decode()
    assert "2024-07-03 09:46" in utc and "2024-07-03 15:16" in india
    assert [ln for ln in _unsquashfs(img, "UTC") if ln.endswith("/etc/hosts")] == [utc.strip()]


def test_big_minor_numbers_are_shown_as_stored(tmp_path: Path) -> None:
    """A minor above 255 is split over two fields of the stored number; unsquashfs 4.5
    prints the raw high bits as part of the major, layerscope the real numbers (as ls -l)."""
    mksquashfs = require_tool("mksquashfs")
    src = tmp_path / "src"
    src.mkdir()
    img = tmp_path / "dev.sqfs"
    subprocess.run(
        [mksquashfs, str(src), str(img), "-noappend", "-quiet", "-p", "/big c 600 0 0 4 300"],
        check=True,
        capture_output=True,
    )
    r = proc("ls", "--no-cache", str(img), "/big", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert r.code == 0, r.err
    assert "  4,300 " in r.out.decode()
    json_out = proc("ls", "--json", str(img), "/big", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert json_out.json()["entries"][0]["rdev"] == [4, 300]


@pytest.mark.parametrize("top", ["/", "/etc", "/etc/hosts", "/empty-dir"])
@pytest.mark.parametrize("size", [1, 3, 8192])
def test_batches_are_the_listing(tmp_path: Path, top: str, size: int) -> None:
    """The batched walk text ls uses yields what listing() (ls --json) does, in order."""
    import layerscope
    from layerscope.present.ls import listing, listing_batches

    with layerscope.open(str(_build(tmp_path)), use_cache=False) as img:
        node = img.find(top)
        batches = list(listing_batches(img.tree, node, size))
        assert all(len(b[0]) == len(b[1]) for b in batches)
        flat = [pair for nodes, paths in batches for pair in zip(nodes, paths, strict=True)]
        assert flat == list(listing(img.tree, node))
        assert flat[0][1] == top


def test_offsets_of_seconds(tmp_path: Path) -> None:
    """Old dates in local mean time (Liberia: -0:44:30 until 1972): the minute is still
    unsquashfs's, though the offset is not a whole number of minutes."""
    mksquashfs = require_tool("mksquashfs")
    src = tmp_path / "src"
    src.mkdir()
    for i, t in enumerate((31_536_000 + 50, 31_536_000 + 20, 86_400 * 800 + 10)):
        (src / f"f{i}").write_text("x")
        os.utime(src / f"f{i}", (t, t))
    img = tmp_path / "old.sqfs"
    subprocess.run([mksquashfs, str(src), str(img), "-noappend", "-quiet", "-no-progress"],
                   check=True, capture_output=True)  # fmt: skip
    tz = "Africa/Monrovia"
    want = _unsquashfs(img, tz)[1:]
    r = proc("ls", "--no-cache", str(img), env={"TZ": tz, "XDG_CACHE_HOME": str(tmp_path)})
    got = r.out.decode().splitlines()[1:]
    assert got == want
    # 1971-01-01 00:00:50 UTC is 23:16:20 local: its minute's start would say 23:15
    assert "1970-12-31 23:16 /f0" in got[0]


def test_times_the_c_library_cannot_show_print_as_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tar can hold any 64-bit mtime: printed as the stored number, to the second."""
    import time

    from layerscope.model.entry import Entry, EntryKind
    from layerscope.model.layers import apply_layers
    from layerscope.present.ls import ls_lines

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    far = 2**62 + 7
    entries = [
        Entry("/a", EntryKind.FILE, 0o644, 0, 0, 1, far),
        Entry("/b", EntryKind.FILE, 0o644, 0, 0, 1, 1_700_000_000),
    ]
    tree = apply_layers([(entries, "none")])
    lines = list(ls_lines(tree, [(tree.lookup(p) or 0, p) for p in ("/a", "/b")]))
    assert lines[0].endswith(f" {far} /a")
    assert lines[1].endswith(" 2023-11-14 22:13 /b")
    monkeypatch.undo()  # TZ as it was, for the C library too
    time.tzset()
