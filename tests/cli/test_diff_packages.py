"""Package-level summaries in `diff --json`, on sandbox directories holding real databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.run import cli

DPKG_A = """Package: libc6
Status: install ok installed
Version: 2.36-9
Description: GNU C Library
 multi-line description

Package: curl
Status: install ok installed
Version: 7.88.1-10

Package: gone
Status: deinstall ok config-files
Version: 1.0
"""
DPKG_B = DPKG_A.replace("7.88.1-10", "7.88.1-10+deb12u5").replace(
    "Package: gone", "Package: jq\nStatus: install ok installed\nVersion: 1.6-2.1\n\nPackage: gone"
)


def _rootfs(root: Path, dpkg: str, dists: list[str], conda: dict[str, str], apk: str) -> Path:
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(dpkg)
    site = root / "usr/lib/python3/site-packages"
    site.mkdir(parents=True)
    for dist in dists:
        (site / dist).mkdir()
        (site / dist / "METADATA").write_text("Metadata-Version: 2.1\n")
    meta = root / "opt/conda/conda-meta"
    meta.mkdir(parents=True)
    for name, version in conda.items():
        (meta / f"{name}-{version}-py_0.json").write_text(
            json.dumps({"name": name, "version": version})
        )
    (root / "lib/apk/db").mkdir(parents=True)
    (root / "lib/apk/db/installed").write_text(apk)
    return root


def test_package_summary(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    a = _rootfs(
        tmp_path / "a", DPKG_A, ["requests-2.31.0.dist-info", "six-1.16.0-py3.11.egg-info"],
        {"numpy": "1.26.0"}, "P:musl\nV:1.2.4-r1\n\nP:busybox\nV:1.36.1-r2\n",
    )  # fmt: skip
    b = _rootfs(
        tmp_path / "b", DPKG_B, ["requests-2.32.3.dist-info", "idna-3.7.dist-info"],
        {"numpy": "1.26.0", "scipy": "1.13.1"}, "P:musl\nV:1.2.4-r2\n",
    )  # fmt: skip
    r = cli(capsysbinary, "diff", str(a), str(b), "--json")
    assert r.code == 1, r.err
    pk = {(d["manager"], d["environment"]): d for d in r.json()["packages"]}
    assert [*pk] == [("dpkg", "/"), ("apk", "/"), ("conda", "/opt/conda"), ("python", "/usr")]
    assert pk["dpkg", "/"] == {
        "manager": "dpkg",
        "environment": "/",
        "added": {"jq": "1.6-2.1"},
        "removed": {},
        "changed": {"curl": {"old": "7.88.1-10", "new": "7.88.1-10+deb12u5"}},
    }
    python = pk["python", "/usr"]
    assert python["added"] == {"idna": "3.7"}
    assert python["removed"] == {"six": "1.16.0"}
    assert python["changed"] == {"requests": {"old": "2.31.0", "new": "2.32.3"}}
    assert pk["conda", "/opt/conda"]["added"] == {"scipy": "1.13.1"}
    assert pk["apk", "/"]["removed"] == {"busybox": "1.36.1-r2"}
    assert pk["apk", "/"]["changed"] == {"musl": {"old": "1.2.4-r1", "new": "1.2.4-r2"}}
    text = cli(capsysbinary, "diff", str(a), str(b)).out.decode()
    # printed as the TUI's metadata screen prints them
    dpkg = text.split("Packages (dpkg)\n", 1)[1].split("\n\n", 1)[0]
    assert "  ~ curl: 7.88.1-10 -> 7.88.1-10+deb12u5" in dpkg.splitlines()


def test_packages_keyed_by_environment(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    """A venv's packaging 26.4 is not hidden by the system's packaging 23.0 (issue 15):
    each environment is its own list, in the JSON and in the text."""
    sides = {}
    for side, venv_version in (("a", None), ("b", "26.4")):
        root = tmp_path / side
        system = root / "usr/lib/python3/dist-packages/packaging-23.0.dist-info"
        system.mkdir(parents=True)
        if venv_version:
            venv = (
                root / f"opt/venv/lib/python3.11/site-packages/packaging-{venv_version}.dist-info"
            )
            venv.mkdir(parents=True)
        sides[side] = root
    r = cli(capsysbinary, "diff", str(sides["a"]), str(sides["b"]), "--json")
    assert r.code == 1, r.err
    assert r.json()["packages"] == [
        {"manager": "python", "environment": "/opt/venv", "added": {"packaging": "26.4"},
         "removed": {}, "changed": {}},
    ]  # fmt: skip
    text = cli(capsysbinary, "diff", str(sides["a"]), str(sides["b"])).out.decode()
    assert "Packages (python, /opt/venv)\n  + packaging = 26.4\n" in text
