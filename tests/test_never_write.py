"""layerscope never writes what it reads: after ls, cat, diff, inspect, check and view, every
image file has the same bytes and mtime, nothing new appears next to it, and `cat` writes
nothing but its stdout.

The images are copies (so a write would succeed and be seen), with an old mtime. Commands
run as real processes with HOME, TMPDIR and the working directory pointed at empty watched
directories; the index cache is on (its directory is XDG_CACHE_HOME, the one place writes
are allowed). `view` runs headless in-process through the app factory the UI tests use.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.run import Result
from tests.conftest import FIXTURES, require_tool

OLD = 1_600_000_000  # 2020-09-13: any write would move the mtime to now

SOURCES = {
    "base.sif": FIXTURES / "sif" / "alpine-like-base.sif",
    "overlay.sif": FIXTURES / "sif" / "with-overlay.sif",
    "plain.sqfs": FIXTURES / "sqfs" / "plain.sqfs",
    "layer.tar.gz": FIXTURES / "oci" / "layers" / "app-1.0-layer3-whiteouts.tar.gz",
    "app.oci-archive.tar": FIXTURES / "oci" / "app-1.0.oci-archive.tar",
    "app.docker-archive.tar": FIXTURES / "docker" / "app-1.0.docker-archive.tar",
    "layout": FIXTURES / "oci" / "app-layout",
}


def snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """relative path -> (sha256 or '<dir>', mtime_ns, mode) of everything under root."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        out[p.relative_to(root).as_posix()] = (digest, st.st_mtime_ns, st.st_mode)
    return out


@pytest.fixture
def images(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    for name, src in SOURCES.items():
        dest = root / name
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            shutil.copyfile(src, dest)
    for p in [root, *root.rglob("*")]:
        os.utime(p, (OLD, OLD), follow_symlinks=False)
    return root


@pytest.fixture
def watched(tmp_path: Path) -> dict[str, Path]:
    dirs = {name: tmp_path / name for name in ("home", "tmp", "cwd")}
    for d in dirs.values():
        d.mkdir()
    return dirs


def run(watched: dict[str, Path], *args: str) -> Result:
    env = {"HOME": str(watched["home"]), "TMPDIR": str(watched["tmp"])}
    r = subprocess.run(
        [sys.executable, "-m", "layerscope", *args],
        cwd=watched["cwd"],
        env={**os.environ, **env, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    return Result(r.returncode, r.stdout, r.stderr.decode("utf-8", "replace"))


def assert_untouched(images: Path, before: dict[str, tuple[str, int, int]], what: str) -> None:
    after = snapshot(images)
    assert after.keys() == before.keys(), f"{what}: files appeared or vanished: " + str(
        sorted(after.keys() ^ before.keys())
    )
    changed = [k for k in before if before[k] != after[k]]
    assert not changed, f"{what}: changed {changed}"


def assert_nothing_written(watched: dict[str, Path], what: str) -> None:
    for name, d in watched.items():
        assert not any(d.iterdir()), f"{what}: wrote into {name}: {list(d.iterdir())}"


def commands(images: Path) -> list[tuple[str, ...]]:
    sif, overlay, sqfs = images / "base.sif", images / "overlay.sif", images / "plain.sqfs"
    layer = images / "layer.tar.gz"
    oci_tar, docker = images / "app.oci-archive.tar", images / "app.docker-archive.tar"
    layout = f"oci:{images / 'layout'}:1.0"
    cmds: list[tuple[str, ...]] = []
    for ref in (str(sif), str(overlay), str(sqfs), str(layer), f"oci-archive:{oci_tar}",
                f"docker-archive:{docker}", layout):  # fmt: skip
        cmds += [("ls", ref), ("ls", "--json", ref), ("inspect", "--json", ref)]
    cmds += [
        ("inspect", str(sif)),
        ("ls", "--layer", "0", layout),
        ("cat", str(sif), "/etc/os-release"),
        ("cat", str(overlay), "/etc/hostname"),
        ("cat", layout, "/etc/app/config.yml"),
        ("cat", f"docker-archive:{docker}", "/etc/app/config.yml"),
        ("diff", str(sif), str(sqfs)),
        ("diff", str(sif), str(overlay)),
        ("diff", f"oci-archive:{oci_tar}", f"docker-archive:{docker}"),
        ("diff", "--json", str(images / "layout") + ":base", layout),
        ("check", str(sif)),
        ("check", "--json", layout),
    ]
    return cmds


def test_commands_never_write(images: Path, watched: dict[str, Path]) -> None:
    before = snapshot(images)
    for args in commands(images):
        r = run(watched, *args)
        what = "layerscope " + " ".join(args)
        assert r.code in (0, 1), f"{what}: exit {r.code}: {r.err}"  # 1: differences/findings
        assert_untouched(images, before, what)
        assert_nothing_written(watched, what)


def test_cat_writes_only_stdout(images: Path, watched: dict[str, Path]) -> None:
    """The bytes `cat` prints are the file's (as unsquashfs -cat gives them), and nothing
    else is written anywhere we can see, not even with the cache disabled."""
    unsquashfs = require_tool("unsquashfs")
    sqfs = images / "plain.sqfs"
    before = snapshot(images)
    for path in ("/etc/os-release", "/lib/ld-musl-x86_64.so.1", "/etc/ssl/cert.pem"):
        want = subprocess.run(
            [unsquashfs, "-cat", str(sqfs), path], capture_output=True, check=True
        ).stdout
        for extra in ((), ("--no-cache",)):
            r = run(watched, "cat", *extra, str(sqfs), path)
            assert r.code == 0 and r.out == want and r.err == "", r.err
            assert_untouched(images, before, f"cat {path}")
            assert_nothing_written(watched, f"cat {path}")


def test_cache_lives_only_in_the_cache_directory(
    images: Path, watched: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    before = snapshot(images)
    for _ in range(2):  # the second run reads what the first cached
        assert run(watched, "ls", str(images / "base.sif")).code == 0
    assert_untouched(images, before, "ls with the cache")
    assert_nothing_written(watched, "ls with the cache")
    assert cache.is_dir() and any(cache.rglob("*")), "the index cache was not used at all"


def test_view_never_writes(
    images: Path, watched: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terminal browser, headless: browse, preview, inspect, quit."""
    from layerscope.ui.app import make_app
    from tests.ui.stories import SIZE, goto, settle

    monkeypatch.chdir(watched["cwd"])
    monkeypatch.setenv("HOME", str(watched["home"]))
    monkeypatch.setenv("TMPDIR", str(watched["tmp"]))
    before = snapshot(images)

    async def browse(refs: list[str], path: str) -> None:
        app = make_app(refs)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("tab")
            await goto(pilot, path)  # opens the preview: reads the file
            for key in ("i", "escape", "q"):
                await pilot.press(key)
                await settle(pilot)

    asyncio.run(browse([str(images / "base.sif")], "/etc/os-release"))
    asyncio.run(browse([str(images / "base.sif"), str(images / "overlay.sif")], "/etc/hostname"))
    asyncio.run(browse([f"oci:{images / 'layout'}:1.0"], "/etc/os-release"))
    assert_untouched(images, before, "view")
    assert_nothing_written(watched, "view")
