"""Broken and hostile images through the real CLI: exit 3, one stderr line, no traceback,
under 200 MB of resident memory, and finished (a generous hang guard; speed lives in
benchmarks/, never in a test).

Inputs: every corrupt fixture (sif/corrupt/*, the broken squashfs superblock, the truncated
umoci layer), every input the fuzzers once broke layerscope with (fixtures/fuzz/), a gzip
bomb (1.3 MB that inflates to 1.3 GiB) and a squashfs whose directory table loops back on
itself, both made here. Each runs as a child process that reports its own peak RSS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.fuzz.targets import cli_ref
from tests.fuzz.test_regressions import findings
from tests.readers.sqfs_reference import looping_squashfs

RSS_LIMIT = 200 << 20


@dataclass
class Measured:
    code: int
    out: bytes
    err: str
    rss: int  # peak resident set of the child, bytes


# Peak RSS of the child itself: VmHWM read at exit by a wrapper. (wait4's ru_maxrss is no
# good here: Linux carries the parent's high-water mark across fork/vfork + exec, so every
# child of a big pytest process would "use" as much as pytest.)
WRAPPER = """
import atexit, os, re, sys
def _report():
    with open('/proc/self/status') as f:
        kib = re.search(r'VmHWM:\\s+(\\d+)', f.read()).group(1)
    with open(os.environ['LAYERSCOPE_TEST_RSS_FILE'], 'w') as out:
        out.write(kib)
atexit.register(_report)
from layerscope.cli import main
main(sys.argv[1:])
"""


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Measured:
    """Run layerscope ARGS in a child process; time it and take its peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = Path(tmp) / "rss"
        try:
            r = subprocess.run(
                [sys.executable, "-c", WRAPPER, *args],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                env={**os.environ, **(env or {}), "LAYERSCOPE_TEST_RSS_FILE": str(rss_file)},
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"layerscope {' '.join(args)}: still running after {timeout} s")
        rss = int(rss_file.read_text()) << 10 if rss_file.exists() else -1
        assert rss > 0, f"layerscope {' '.join(args)}: no RSS report: {r.stderr!r}"
        return Measured(r.returncode, r.stdout, r.stderr.decode("utf-8", "replace"), rss)


def assert_bad_input(r: Measured, what: str) -> None:
    assert "Traceback" not in r.err, f"{what}:\n{r.err}"
    assert r.code == 3, f"{what}: exit {r.code}: {r.err}"
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerscope: error: "), f"{what}: {r.err!r}"
    assert r.rss < RSS_LIMIT, f"{what}: {r.rss >> 20} MiB"


CORRUPT = [
    *sorted((FIXTURES / "sif" / "corrupt").iterdir()),
    FIXTURES / "sqfs" / "corrupt-superblock.sqfs",
    FIXTURES / "oci" / "layers" / "quirks" / "umoci-0.4.7-insert-opaque-truncated.tar.gz",
]


@pytest.mark.parametrize("path", CORRUPT, ids=lambda p: p.name)
@pytest.mark.parametrize("command", ["ls", "inspect"])
def test_corrupt_fixture(command: str, path: Path) -> None:
    assert_bad_input(run_cli(command, "--no-cache", str(path)), f"{command} {path.name}")


def _cli_findings() -> list[tuple[str, Path]]:
    return [(p, f) for p, f in findings() if cli_ref(p, f) is not None]


@pytest.mark.parametrize(("parser", "path"), _cli_findings(), ids=lambda v: getattr(v, "name", v))
def test_fuzz_finding(parser: str, path: Path) -> None:
    """A fuzz finding is a damaged image: reading it is exit 3 (a few turned out readable
    once the bug was fixed; their note says so, and they must then list cleanly)."""
    ref = cli_ref(parser, path)
    assert ref is not None
    r = run_cli("ls", "--no-cache", ref)
    note = (path.parent / (path.name.split("-", 1)[0] + ".txt")).read_text()
    if "readable after the fix" in " ".join(note.split()):
        assert r.code == 0 and r.err == "", r.err
        assert r.rss < RSS_LIMIT
    else:
        assert_bad_input(r, f"{parser} {path.name}")


def gzip_bomb(dest: Path) -> Path:
    """A layer whose one tar member claims 4 GiB of zeros: 81 concatenated gzip members of
    16 MiB each (gzip allows that), ~1.3 MB on disk for 1.3 GiB inflated."""
    head = tarfile.TarInfo("zeros.img")
    head.size = 4 << 30

    def member(data: bytes) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()

    zeros = bytes(16 << 20)
    dest.write_bytes(member(head.tobuf(format=tarfile.GNU_FORMAT) + zeros) + member(zeros) * 80)
    return dest


def test_gzip_bomb_stops_at_the_limit(tmp_path: Path) -> None:
    bomb = gzip_bomb(tmp_path / "bomb.tar.gz")
    assert bomb.stat().st_size < 2 << 20
    r = run_cli("ls", "--no-cache", str(bomb))
    assert_bad_input(r, "gzip bomb")
    assert "decompression bomb" in r.err and "LAYERSCOPE_BOMB_FLOOR" in r.err


def test_squashfs_directory_cycle_stops(tmp_path: Path) -> None:
    image = looping_squashfs(tmp_path)
    for command in ("ls", "inspect"):
        r = run_cli(command, "--no-cache", str(image))
        assert_bad_input(r, f"{command} looping squashfs")
        assert "loop" in r.err


def test_other_commands_on_hostile_input(tmp_path: Path) -> None:
    """cat, diff, check and ls --json on the same inputs: the same one-line exit 3. (The
    bomb floor is lowered to 256 MiB here only to keep six runs quick; the bomb above is
    stopped by the default limits.)"""
    bomb = str(gzip_bomb(tmp_path / "bomb.tar.gz"))
    good = str(FIXTURES / "sqfs" / "plain.sqfs")
    broken = str(FIXTURES / "sif" / "corrupt" / "truncated-partition.sif")
    for args in (
        ("cat", bomb, "/zeros.img"),
        ("cat", broken, "/etc/os-release"),
        ("diff", good, broken),
        ("diff", bomb, good),
        ("check", broken),
        ("ls", "--json", bomb),
    ):
        r = run_cli(args[0], "--no-cache", *args[1:], env={"LAYERSCOPE_BOMB_FLOOR": "256M"})
        assert_bad_input(r, " ".join(args))
        if args[0] == "cat":
            assert r.out == b""


def test_undecodable_labels_are_escaped() -> None:
    """Labels that decode to lone surrogates are printed escaped, not a UnicodeEncodeError
    (fixtures/fuzz/oci-json/o03.txt)."""
    layout = FIXTURES / "fuzz" / "oci-json" / "o03-layout"
    r = run_cli("inspect", "--no-cache", f"oci:{layout}")
    assert r.code == 0 and r.err == "", r.err
    # the undecodable byte shows as the byte, the lone surrogate as its code point
    assert b"\\xff: \\ud800 label" in r.out
    r = run_cli("inspect", "--json", "--no-cache", f"oci:{layout}")
    assert r.code == 0 and r.err == "", r.err
    assert json.loads(r.out)["labels"] == {"\udcff": "\ud800 label"}
