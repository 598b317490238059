"""Build stages as `apptainer build` saves them, from a real Debian minbase root filesystem:
three SIFs (a definition file, an `inspect-metadata.json` object, a squashfs partition
with `/.singularity.d` inside), each step written with another compressor (gzip, zstd,
xz), and a gzip copy of step 2 for the same-compressor path. `layerscope diff --json` of
each pair must report what `sqfsdiff` reports of the two partitions: the same added,
removed and modified paths, and the same reasons."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.run import proc
from tests.conftest import require_tool
from tests.reference import siftool_rows
from tests.sqfsdiff_reference import layerscope_changes, sqfsdiff

DEFINITIONS = (
    'Bootstrap: localimage\nFrom: debian-minbase\n\n%runscript\n    exec /bin/bash "$@"\n',
    "Bootstrap: localimage\nFrom: stage1.sif\n\n%post\n    install-tool /opt/tool\n"
    "\n%labels\n    stage 2\n",
    "Bootstrap: localimage\nFrom: stage2.sif\n\n%post\n    rm -rf /usr/share/doc\n"
    "    python3 -m venv /opt/venv\n\n%environment\n    export PATH=/opt/venv/bin:$PATH\n",
)


@dataclass
class Stage:
    sif: Path
    sqfs: Path


def _private(path: Path) -> None:
    """Replace a hard link to the shared minbase by a copy of its own (metadata kept), so
    that changing it changes only this stage."""
    tmp = path.with_name(path.name + ".own")
    shutil.copy2(path, tmp)
    st = path.stat()
    os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, path)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()  # never write through a hard link into another stage
    path.write_bytes(data)
    path.chmod(mode)


def _singularity_d(root: Path, step: int) -> None:
    """/.singularity.d as apptainer lays it out; each step's definition is kept and the
    earlier ones move to bootstrap_history."""
    sd = root / ".singularity.d"
    if sd.exists():
        shutil.rmtree(sd)  # a fresh tree of this stage's own files
    for sub in ("actions", "env", "libs"):
        (sd / sub).mkdir(parents=True)
    _write(sd / "Singularity", DEFINITIONS[step].encode())
    for old in range(step):
        _write(sd / "bootstrap_history" / f"Singularity{old}", DEFINITIONS[old].encode())
    _write(sd / "runscript", b'#!/bin/sh\nexec /bin/bash "$@"\n', 0o755)
    _write(sd / "startscript", b"#!/bin/sh\n", 0o755)
    _write(sd / "labels.json", json.dumps({"org.label-schema.stage": str(step + 1)}).encode())
    _write(sd / "env" / "01-base.sh", b"#!/bin/sh\n# base environment\n", 0o755)
    env = b"#!/bin/sh\nexport PATH=/opt/venv/bin:$PATH\n" if step == 2 else b"#!/bin/sh\n"
    _write(sd / "env" / "90-environment.sh", env, 0o755)
    for action in ("exec", "run", "shell", "start", "test"):
        _write(sd / "actions" / action, f"#!/bin/sh\n# {action}\n".encode(), 0o755)
    for link, target in (("environment", ".singularity.d/env/90-environment.sh"),
                         ("singularity", ".singularity.d/runscript")):  # fmt: skip
        if not (root / link).is_symlink():
            (root / link).symlink_to(target)


def _step2(root: Path) -> None:
    """An added tree of real binaries and data, a same-size edit, a chmod."""
    lib = root / "usr/lib/x86_64-linux-gnu"
    tool = root / "opt/tool"
    libs = sorted(p for p in lib.glob("lib*.so*") if p.is_file() and not p.is_symlink())[:12]
    assert libs, "the minbase has shared libraries"
    for p in libs:
        _write(tool / "lib" / p.name, p.read_bytes(), 0o755)
    _write(tool / "bin" / "tool", (root / "usr/bin/ls").read_bytes(), 0o755)
    for i in range(40):
        _write(tool / "share" / f"data{i:02d}.txt", f"tool data {i}\n".encode() * (i * 7 + 1))
    version = root / "etc/debian_version"
    text = version.read_bytes()
    _write(version, text[:-2] + bytes([text[-2] ^ 1]) + text[-1:])  # same size, other bytes
    _private(root / "etc/issue")
    (root / "etc/issue").chmod(0o600)


def _step3(root: Path) -> None:
    """/usr/share/doc removed, a venv-like tree added, a tool file edited in place."""
    shutil.rmtree(root / "usr/share/doc")
    venv = root / "opt/venv"
    _write(venv / "pyvenv.cfg", b"home = /usr/bin\ninclude-system-site-packages = false\n")
    _write(venv / "bin" / "activate", b"# source this\nVIRTUAL_ENV=/opt/venv\n")
    (venv / "bin" / "python3").symlink_to("/usr/bin/python3")
    (venv / "bin" / "python").symlink_to("python3")
    site = venv / "lib/python3.11/site-packages"
    for pkg in ("packaging", "requests", "urllib3"):
        _write(site / pkg / "__init__.py", f'"""{pkg}"""\n__version__ = "1.0"\n'.encode())
        _write(site / f"{pkg}-1.0.dist-info" / "METADATA",
               f"Metadata-Version: 2.1\nName: {pkg}\nVersion: 1.0\n".encode())  # fmt: skip
    first = sorted((root / "opt/tool/lib").iterdir())[0]
    _write(site / "_native.so", first.read_bytes(), 0o755)
    data = root / "opt/tool/share/data03.txt"
    _write(data, data.read_bytes().upper())  # same size, other bytes


def _sif(root: Path, out: Path, step: int, comp: str) -> Stage:
    mksquashfs, siftool = require_tool("mksquashfs"), require_tool("siftool")
    sqfs = out.with_suffix(".sqfs")
    subprocess.run(
        [mksquashfs, str(root), str(sqfs), "-comp", comp, "-noappend", "-quiet",
         "-no-progress"],
        check=True, timeout=900,
    )  # fmt: skip
    definition = out.with_suffix(".def")
    definition.write_text(DEFINITIONS[step])
    meta = out.with_suffix(".json")
    meta.write_text(json.dumps({"data": {"attributes": {
        "deffile": DEFINITIONS[step], "labels": {"org.label-schema.stage": str(step + 1)},
    }}, "type": "container"}))  # fmt: skip
    subprocess.run([siftool, "new", str(out)], check=True, capture_output=True)
    for args in (
        [str(definition), "--datatype", "1"],
        [str(meta), "--datatype", "6", "--filename", "inspect-metadata.json"],
        [str(sqfs), "--datatype", "4", "--parttype", "2", "--partfs", "1", "--partarch", "2"],
    ):
        subprocess.run([siftool, "add", str(out), *args, "--groupid", "1"], check=True,
                       capture_output=True)  # fmt: skip
    return Stage(out, sqfs)


@pytest.fixture(scope="module")
def stages(minbase: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Stage]:
    work = tmp_path_factory.mktemp("stages")
    roots = [work / f"root{i}" for i in (1, 2, 3)]
    # hard links: fast, and the minbase is never written (files are replaced, not edited)
    subprocess.run(["cp", "-al", str(minbase), str(roots[0])], check=True)
    _singularity_d(roots[0], 0)
    subprocess.run(["cp", "-al", str(roots[0]), str(roots[1])], check=True)
    _step2(roots[1])
    _singularity_d(roots[1], 1)
    subprocess.run(["cp", "-al", str(roots[1]), str(roots[2])], check=True)
    _step3(roots[2])
    _singularity_d(roots[2], 2)
    return {
        "s1": _sif(roots[0], work / "s1.sif", 0, "gzip"),
        "s2": _sif(roots[1], work / "s2.sif", 1, "zstd"),
        "s3": _sif(roots[2], work / "s3.sif", 2, "xz"),
        "s2-gzip": _sif(roots[1], work / "s2-gzip.sif", 1, "gzip"),
    }


@pytest.mark.timeout(1800)  # the first real test pays for building the root filesystem
def test_stages_are_laid_out_as_apptainer_does(stages: dict[str, Stage]) -> None:
    siftool = require_tool("siftool")
    for stage in stages.values():
        out = subprocess.run([siftool, "list", str(stage.sif)], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
        kinds = [row["type"] for row in siftool_rows(out)]
        assert kinds[0] == "Def.FILE" and kinds[1] == "JSON.Generic", kinds
        assert kinds[2].startswith("FS (Squashfs/*System/amd64)"), kinds
        r = proc("ls", "--json", "--no-cache", str(stage.sif), "/.singularity.d", timeout=300)
        assert r.code == 0, r.err
        paths = {e["path"] for e in r.json()["entries"]}
        assert {"/.singularity.d/Singularity", "/.singularity.d/runscript"} <= paths


@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("a", "b"), [("s1", "s2"), ("s2", "s3"), ("s1", "s3"), ("s1", "s2-gzip")])
def test_stage_diff_equals_sqfsdiff(stages: dict[str, Stage], a: str, b: str) -> None:
    r = proc("diff", "--json", "--no-cache", str(stages[a].sif), str(stages[b].sif),
             timeout=900)  # fmt: skip
    assert r.code == 1, r.err
    ours = layerscope_changes(r.json())
    ref = sqfsdiff(stages[a].sqfs, stages[b].sqfs)
    assert ours.added == ref.added
    assert ours.removed == ref.removed
    assert ours.modified == ref.modified
    assert "/etc/debian_version" in ours.modified or a == "s2"  # a same-size edit, found
    if b == "s3":
        assert "/usr/share/doc" in ours.removed and "/opt/venv/pyvenv.cfg" in ours.added
