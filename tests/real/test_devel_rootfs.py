"""Zero false positives on a real development image: Debian with build-essential, cmake and
python3-scipy (the issue's stock HPC-like tree). Its packages' byte-code and static
libraries are optional slimming, not caches; the test key cmake ships is reported as
shipped by its package and does not fail the gate."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.run import cli
from tests.conftest import require_tool


# the session fixture builds a ~1 GB root filesystem with mmdebstrap on first use: its
# downloads and unpacking are the setup of this test, beyond pytest's default 300 s guard
@pytest.mark.timeout(1800)
def test_stock_devel_tree_passes_the_gates(
    devel: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    r = cli(capsysbinary, "check", "--no-cache", "--json", "--rule", "no-secrets=true",
            "--rule", "no-caches=true", str(devel))  # fmt: skip
    assert r.code == 0, r.out[-3000:]
    a = r.json()["analysis"]
    assert a["secrets"]["complete"] and a["secrets"]["not_scanned"] == []
    assert a["secrets"]["counted"] == 0
    pfx = "/usr/share/cmake-3.25/Templates/Windows/Windows_TemporaryKey.pfx"
    shipped = {f["location"]: f["shipped_by"] for f in a["secrets"]["findings"]}
    assert all(shipped.values()), shipped  # every finding is a package's own file
    assert shipped[pfx].startswith("cmake-data ")
    query = require_tool("dpkg-query")
    owner = subprocess.run([query, f"--admindir={devel}/var/lib/dpkg", "-S", pfx],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert owner.split(":")[0] == "cmake-data"
    assert a["caches"]["total"] == 0
    classes = {j["class"] for j in a["caches"]["findings"]}
    assert {"package-pycache", "static-lib"} <= classes
    assert a["caches"]["slimming"] > 50_000_000  # libopenblas.a, libc.a, __pycache__...
    assert a["packages"]["count"] > 150
    assert a["packages"]["owned_bytes"] > 0.9 * a["sizes"]["final_bytes"]
