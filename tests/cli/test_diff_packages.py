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


def test_a_real_venv_beside_the_system_python(tmp_path: Path) -> None:
    """A venv made by `python -m venv` (pip from ensurepip, with its RECORD) next to the
    system's pip in /usr/lib/python3/dist-packages, packed by mksquashfs: the same name in
    two environments with two versions, both listed, each with its environment."""
    import re
    import shutil
    import subprocess
    import sys

    from tests.cli.run import proc
    from tests.conftest import require_tool

    mksquashfs = require_tool("mksquashfs")
    before, after = tmp_path / "before", tmp_path / "after"
    (before / "usr/lib/python3/dist-packages").mkdir(parents=True)
    venv = after / "opt/venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    assert (venv / "pyvenv.cfg").is_file()
    (venv_pip,) = (venv / "lib").glob("python3*/site-packages/pip-*.dist-info")
    venv_version = venv_pip.name.removeprefix("pip-").removesuffix(".dist-info")
    system = after / "usr/lib/python3/dist-packages"
    system.mkdir(parents=True)
    host = sorted(Path("/usr/lib/python3/dist-packages").glob("pip-*.dist-info"))
    if host and not host[-1].name.endswith(f"-{venv_version}.dist-info"):
        shutil.copytree(host[-1], system / host[-1].name)  # Debian's python3-pip
    else:  # no other pip on this machine: the venv's, as an older release
        old = system / "pip-9.0.1.dist-info"
        shutil.copytree(venv_pip, old)
        meta = old / "METADATA"
        meta.write_text(re.sub(r"(?m)^Version: .*$", "Version: 9.0.1", meta.read_text()))
    (system_pip,) = system.glob("pip-*.dist-info")
    system_version = system_pip.name.removeprefix("pip-").removesuffix(".dist-info")
    images = []
    for root in (before, after):
        img = tmp_path / f"{root.name}.sqfs"
        subprocess.run([mksquashfs, str(root), str(img), "-noappend", "-quiet", "-no-progress"],
                       check=True, capture_output=True)  # fmt: skip
        images.append(str(img))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    r = proc("diff", "--json", *images, env=env)
    assert r.code == 1, r.err
    python = {d["environment"]: d for d in r.json()["packages"] if d["manager"] == "python"}
    assert python["/usr"]["added"] == {"pip": system_version}
    assert python["/opt/venv"]["added"]["pip"] == venv_version != system_version
    text = proc("diff", "--summary", *images, env=env).out.decode()
    assert "Packages (python)\n" not in text  # no environment-less list
    assert "Packages (python, /opt/venv)\n" in text
    assert f"  + pip = {venv_version}\n" in text.split("Packages (python, /opt/venv)\n")[1]
    assert f"  + pip = {system_version}\n" in text.split("Packages (python, /usr)\n")[1]
