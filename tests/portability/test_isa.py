"""x86-64 levels of programs compiled with Debian's gcc at -march=x86-64, -v2, -v3,
-mavx512f and one marked v3 only by its GNU property note, in OCI layers (tarfile +
umoci) and SIF stages (mksquashfs + siftool): the report names exactly the expected level
and files; objdump and readelf, the reference tools, agree on what was found."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import layerscope
from layerscope.engine.portability import portability
from layerscope.model.portability.levels import level_name, parse_cpu
from layerscope.model.portability.query import answer_cpu
from tests.conftest import require_tool
from tests.portability_support import LEVELS, add_files, layer_tar, make_oci, make_sif

BIN = "/opt/app/bin"
ORDER = ["base", "v2", "v3", "note", "avx512f"]


@pytest.fixture(scope="module")
def layered(programs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    """An OCI image whose layer N adds program ORDER[N]."""
    layers = [layer_tar({f"{BIN}/{name}": programs[name].read_bytes()}) for name in ORDER]
    return make_oci(tmp_path_factory.mktemp("oci") / "layout", layers)


def test_each_program_alone_names_its_level(programs: dict[str, Path], tmp_path: Path) -> None:
    for name, (_, level) in LEVELS.items():
        root = tmp_path / name
        add_files(root, {f"{BIN}/{name}": programs[name]})
        with layerscope.open(str(root)) as img:
            r = portability(img)
        assert r.arch.counts == {"amd64": 1}
        got = r.isa
        assert got.level is not None
        assert (name, level_name(got.level)) == (name, level)
        if level == "x86-64":
            assert got.set_by == [] and got.files == []
        else:
            assert got.set_by == [f"{BIN}/{name}"]
            (row,) = got.files
            assert row.source == ("note" if name == "note" else "decoded")


def test_layers_raise_the_level_one_by_one(layered: str) -> None:
    want = [
        ("x86-64", []),
        ("x86-64-v2", ["v2"]),
        ("x86-64-v3", ["v3"]),
        ("x86-64-v3", ["note", "v3"]),
        ("x86-64-v4", ["avx512f"]),
    ]
    for n, (level, set_by) in enumerate(want):
        with layerscope.open(layered, layer=n) as img:
            r = portability(img)
        assert r.arch.declared == "amd64" and r.elf_files == n + 1
        assert (n, level_name(r.isa.level or 0)) == (n, level)
        assert r.isa.set_by == [f"{BIN}/{s}" for s in set_by]
        assert r.isa.decoded == n + 1 - (n >= 3)  # the note's file is not decoded


def test_objdump_and_readelf_agree(programs: dict[str, Path]) -> None:
    """What the decoder found matches objdump's disassembly; the note, readelf -n."""
    objdump, readelf = require_tool("objdump"), require_tool("readelf")
    for name in [*ORDER, "dispatch"]:
        path = programs[name]
        with layerscope.open(str(path.parent)) as img:
            r = portability(img)
        rows = {f.path.rsplit("/", 1)[-1]: f for f in r.isa.files}
        feats = set(rows[name].features) if name in rows else set()
        text = subprocess.run(
            [objdump, "-d", "--no-show-raw-insn", str(path)], capture_output=True, text=True
        ).stdout
        assert ("popcnt" in text) == ("POPCNT" in feats), name
        assert bool(re.search(r"\bvfmadd", text)) == ("FMA" in feats), name
        assert ("%zmm" in text) == ("AVX512F" in feats), name
        notes = subprocess.run([readelf, "-n", str(path)], capture_output=True, text=True).stdout
        assert ("x86-64-v3" in notes) == (name == "note"), name


def test_dispatching_code_is_listed_apart(programs: dict[str, Path], tmp_path: Path) -> None:
    add_files(tmp_path, {f"{BIN}/base": programs["base"], f"{BIN}/dispatch": programs["dispatch"]})
    with layerscope.open(str(tmp_path)) as img:
        r = portability(img)
    assert level_name(r.isa.level or 0) == "x86-64"  # the AVX2 loop is not a need
    (row,) = r.isa.dispatch
    assert row.path == f"{BIN}/dispatch" and "AVX2" in row.features and row.level == 3
    answer = answer_cpu(r, parse_cpu("nehalem"))
    assert answer.runs and answer.dispatch == [f"{BIN}/dispatch"]


def test_cpu_answers(layered: str) -> None:
    with layerscope.open(layered) as img:
        r = portability(img)
    cpus = ("haswell", "x86-64-v3", "skylake-avx512", "x86-64-v4", "znver3", "znver4")
    runs = {cpu: answer_cpu(r, parse_cpu(cpu)) for cpu in cpus}
    assert {cpu: a.runs for cpu, a in runs.items()} == {
        "haswell": False,
        "x86-64-v3": False,
        "skylake-avx512": True,
        "x86-64-v4": True,
        "znver3": False,
        "znver4": True,
    }
    assert runs["haswell"].failing == [(f"{BIN}/avx512f", "x86-64-v4", ["AVX512F"])]
    assert [f for f, _, _ in runs["x86-64-v3"].failing] == [f"{BIN}/avx512f"]
    # the note's file needs v3, which a v2 CPU (Nehalem) lacks, as do v3 and v2 builds
    nehalem = answer_cpu(r, parse_cpu("nehalem"))
    failing = sorted(p.rsplit("/", 1)[-1] for p, _, _ in nehalem.failing)
    assert failing == ["avx512f", "note", "v3"]


def test_sif_stages(programs: dict[str, Path], tmp_path: Path) -> None:
    """Stage 1 holds the baseline program, stage 2 adds the v3 one, stage 3 the AVX-512
    one: each SIF's report says its own level."""
    root = tmp_path / "root"
    levels = []
    for n, name in enumerate(["base", "v3", "avx512f"], 1):
        add_files(root, {f"{BIN}/{name}": programs[name]})
        sif = make_sif(root, tmp_path / f"stage{n}.sif")
        with layerscope.open(str(sif)) as img:
            r = portability(img)
        levels.append((level_name(r.isa.level or 0), r.isa.set_by))
    assert levels == [
        ("x86-64", []),
        ("x86-64-v3", [f"{BIN}/v3"]),
        ("x86-64-v4", [f"{BIN}/avx512f"]),
    ]


def test_glibc_hwcaps_variants_are_optional(programs: dict[str, Path], tmp_path: Path) -> None:
    """glibc loads a glibc-hwcaps/x86-64-v3/ copy only on a v3 CPU: not a need."""
    lib = "/usr/lib/x86_64-linux-gnu"
    add_files(tmp_path, {
        f"{lib}/glibc-hwcaps/x86-64-v3/libfast.so.1": programs["v3"],
        f"{lib}/libfast.so.1": programs["base"],
    })  # fmt: skip
    with layerscope.open(str(tmp_path)) as img:
        r = portability(img)
    assert level_name(r.isa.level or 0) == "x86-64" and r.isa.set_by == []
    assert r.isa.optional == 1 and r.isa.decoded == 1  # the hwcaps copy is not decoded
    assert answer_cpu(r, parse_cpu("nehalem")).runs
