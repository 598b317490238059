"""The pure parts of the portability model: windows over big files, paths through
symlinks, versions, MPI specifications, and changes between two reports."""

from __future__ import annotations

from typing import Any

import pytest

from layerscope.model.entry import Entry, EntryKind
from layerscope.model.layers import apply_layer
from layerscope.model.portability.changes import portability_changes
from layerscope.model.portability.facts import DecodedFacts, ElfFacts
from layerscope.model.portability.paths import resolve
from layerscope.model.portability.report import Context, FileInfo, build_report
from layerscope.model.portability.stacks import (
    mpi_compatibility,
    parse_host_mpi,
    parse_mpi_spec,
)
from layerscope.model.portability.versions import compare_versions, parse_version, upstream
from layerscope.model.portability.window import OutsideWindow, collect
from layerscope.model.tree import FileTree
from tests.conftest import FIXTURES

FIXTURE_ELF = FIXTURES / "elf"


def test_window_keeps_everything_within_the_bound() -> None:
    data = bytes(range(256)) * 10
    w = collect([data[:100], data[100:]], len(data), 4096)
    assert w.whole and w.slice(10, 20) == data[10:20] and w.slice(2550, 9999) == data[2550:]


def test_window_keeps_head_and_tail_of_a_big_file() -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes through a 1,000-byte window
    chunks = [data[i : i + 333] for i in range(0, len(data), 333)]
    w = collect(chunks, len(data), 1000)
    assert not w.whole and w.size == len(data)
    assert w.slice(0, 500) == data[:500]
    assert w.slice(len(data) - 500, len(data)) == data[-500:]
    with pytest.raises(OutsideWindow):
        w.slice(400, 600)
    assert len(w.head) + len(w.tail) == 1000


def _tree(entries: list[Entry]) -> FileTree:
    tree = FileTree()
    apply_layer(tree, 0, iter(entries), "oci")
    return tree


def _e(path: str, kind: EntryKind, target: str | None = None) -> Entry:
    return Entry(path=path, kind=kind, mode=0o755, uid=0, gid=0, size=0, mtime=0, target=target)


def test_resolve_follows_symlinks_like_a_loader() -> None:
    D, F, L = EntryKind.DIR, EntryKind.FILE, EntryKind.SYMLINK
    tree = _tree([
        _e("/usr", D), _e("/usr/lib", D), _e("/usr/lib/x86_64-linux-gnu", D),
        _e("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", F),
        _e("/usr/lib64", D),
        _e("/usr/lib64/ld-linux-x86-64.so.2", L, "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        _e("/lib64", L, "usr/lib64"),
        _e("/loop", L, "/loop"),
        _e("/up", L, "../../../usr"),
    ])  # fmt: skip
    node = resolve(tree, "/lib64/ld-linux-x86-64.so.2")
    assert node is not None
    assert tree.path(node) == "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert resolve(tree, "/loop/x") is None
    up = resolve(tree, "/up/lib")  # ".." stops at the root, as in a chroot
    assert up is not None and tree.path(up) == "/usr/lib"
    assert resolve(tree, "/usr/nothing") is None


def test_versions() -> None:
    assert upstream("1:4.1.4-3+b1") == "4.1.4"
    assert upstream("2.36-9+deb12u4") == "2.36"
    assert upstream("12.2.140") == "12.2.140"
    assert parse_version("4.2.2rc2") == (4, 2, 2)
    assert parse_version("GLIBC_2.34") == (2, 34)
    assert parse_version("9" * 5000) == (999_999_999,)  # bounded: never a 5,000-digit int
    assert compare_versions("4.1", "4.1.0") == 0
    assert compare_versions("2.38", "2.4") == 1
    assert compare_versions("3.10.0", "3.2.0") == 1


def test_mpi_specs_and_host_compatibility() -> None:
    spec = parse_mpi_spec("OpenMPI >= 4.1")
    assert str(spec) == "openmpi>=4.1"
    assert spec.matches("openmpi", "4.1.4") and not spec.matches("openmpi", "4.0.7")
    assert not spec.matches("mpich", "4.1") and not spec.matches("openmpi", None)
    abi = parse_mpi_spec("mpich-abi")
    assert abi.matches("intel-mpi", None) and abi.matches("mvapich", "2.3")
    assert not abi.matches("openmpi", "4.1.4")
    with pytest.raises(ValueError, match="'lam' is not an MPI"):
        parse_mpi_spec("lam")
    host = parse_host_mpi("mpich-4.1")
    assert mpi_compatibility("intel-mpi", "2021.10", host)[0]
    assert not mpi_compatibility("openmpi", "4.1.4", host)[0]
    ok, why = mpi_compatibility("openmpi", "4.1.4", parse_host_mpi("openmpi-4.0.3"))
    assert ok and "older" in why
    assert not mpi_compatibility("openmpi", "4.1.4", parse_host_mpi("ompi-5.0.2"))[0]


def _elf(features: tuple[str, ...] = (), dispatch: bool = False, **kw: Any) -> ElfFacts:
    decoded = DecodedFacts(features, dispatch, 100)
    kw.setdefault("kind", "pie")
    return ElfFacts(machine="EM_X86_64", bits=64, decoded=decoded, **kw)


def test_changes_between_reports() -> None:
    libc = FileInfo("/lib/libc.so.6", _elf(soname="libc.so.6", abi_tag=(3, 2, 0),
                                           strings={"glibc": "2.36"}))  # fmt: skip
    app = FileInfo("/opt/solver", _elf(("SSE2",)))
    fast = FileInfo("/opt/solver", _elf(("AVX512F", "AVX512BW")))
    mpi = FileInfo("/usr/lib/libmpi.so.40.30.4", _elf(kind="shared", strings={
        "mpi": "openmpi", "mpi.version": "4.1.4"}))  # fmt: skip
    a = build_report([libc, app], Context("a"), [])
    b = build_report([libc, fast, mpi], Context("b"), [])
    got = [(c.kind, c.direction, c.old, c.new, c.subject, c.files)
           for c in portability_changes(a, b)]  # fmt: skip
    assert got == [
        ("isa", "raised", "1", "4", "", ["/opt/solver"]),
        ("component", "added", None, "4.1.4", "Open MPI", []),
    ]
    assert portability_changes(b, b) == []


def test_a_bad_header_table_is_one_problem_once() -> None:
    from layerscope.model.portability.elf import read_elf

    data = bytearray((FIXTURE_ELF / "program-v3").read_bytes())
    data[0x3A:0x3C] = (1415).to_bytes(2, "little")  # e_shentsize: not 64
    facts = read_elf(collect([bytes(data)], len(data), 1 << 20), want_decode=False)
    assert facts is not None
    assert [p for p in facts.problems if p.startswith("section headers")] == [
        "section headers: entries of 1415 bytes, not 64"
    ]
