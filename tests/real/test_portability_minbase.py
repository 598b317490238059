"""The portability report on a real Debian minbase root filesystem (mmdebstrap): the
distribution's files, installed unchanged, are built for its baseline and not decoded;
a file changed since dpkg installed it and a program added by hand are; glibc's version
comes from the dpkg database and its kernel floor from libc's ABI note."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import layerscope
from layerscope.engine.portability import portability
from layerscope.model.portability.versions import upstream
from tests.portability_support import PROGRAM, compile_c


@pytest.mark.timeout(1800)  # the first real test pays for building the root filesystem
def test_distribution_files_are_not_decoded(minbase: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    # hard links: fast, and the minbase is never written (files are replaced, not edited)
    subprocess.run(["cp", "-al", str(minbase), str(root)], check=True)
    solver = compile_c(PROGRAM, tmp_path / "solver", "-mavx512f")
    (root / "opt/app/bin").mkdir(parents=True)
    shutil.copyfile(solver, root / "opt/app/bin/solver")
    (root / "opt/app/bin/solver").chmod(0o755)
    ls = root / "usr/bin/ls"
    data = ls.read_bytes() + b"\0"  # changed since dpkg installed it: no longer its build
    ls.unlink()
    ls.write_bytes(data)
    ls.chmod(0o755)
    status = (minbase / "var/lib/dpkg/status").read_text()
    libc6 = status.split("Package: libc6\n", 1)[1].split("\nVersion: ", 1)[1].split("\n")[0]

    with layerscope.open(str(root)) as img:
        r = portability(img)
    isa = r.isa
    assert isa.level == 4 and isa.set_by == ["/opt/app/bin/solver"]
    assert isa.distribution > 100 and isa.distro_baseline == 1
    # only the two files that are not the distribution's own were decoded
    assert isa.decoded == 2
    assert [f.path for f in isa.files] == ["/opt/app/bin/solver"]
    g = r.glibc
    assert (g.libc, g.version, g.source) == ("glibc", upstream(libc6), f"dpkg libc6 {libc6}")
    assert g.kernel == "3.2.0" and g.unresolved == []
    assert r.arch.main == "amd64" and r.arch.foreign == []
    assert r.problems == []
