"""Hostile OCI layouts: blobs that are not regular files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.readers.hostile import run_cli

APP = FIXTURES / "oci" / "app-layout"


def _layer_blob(layout: Path, tag: str) -> Path:
    index = json.loads((layout / "index.json").read_text())
    name = "org.opencontainers.image.ref.name"
    desc = next(m for m in index["manifests"] if m["annotations"][name] == tag)
    manifest = json.loads((layout / "blobs" / "sha256" / desc["digest"][7:]).read_text())
    digest: str = manifest["layers"][-1]["digest"]
    return layout / "blobs" / "sha256" / digest[7:]


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
@pytest.mark.parametrize("command", ["ls", "inspect"])
def test_non_regular_blob_is_refused(tmp_path: Path, kind: str, command: str) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(APP, layout)
    blob = _layer_blob(layout, "1.0")
    blob.unlink()
    if kind == "fifo":
        os.mkfifo(blob)  # opening it for reading would wait for a writer forever
    elif kind == "dev-zero":
        blob.symlink_to("/dev/zero")  # endless zeros: an "empty" layer before
    else:
        blob.mkdir()
    r = run_cli(command, "--no-cache", f"oci:{layout}:1.0", timeout=60)
    line = r.one_error_line()
    assert r.code == 3, r.err
    assert blob.name in line and "not a regular file" in line


def test_blob_symlinked_to_a_regular_file_is_read(tmp_path: Path) -> None:
    """Deduplicated layouts link blobs to one copy: a link to a regular file is fine."""
    layout = tmp_path / "layout"
    shutil.copytree(APP, layout)
    blob = _layer_blob(layout, "1.0")
    store = tmp_path / "elsewhere"
    blob.rename(store)
    blob.symlink_to(store)
    r = run_cli("ls", "--no-cache", f"oci:{layout}:1.0", timeout=60)
    assert r.code == 0 and r.err == "", r.err
    assert r.out.strip()
