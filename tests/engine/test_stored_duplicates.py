"""Duplicates on squashfs: mksquashfs stores identical files once by default, so what the
tree holds twice is not what the image stores twice (issue 16)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from layerscope.engine.analysis import analyze
from layerscope.engine.loading import load_image
from layerscope.present.analysis import findings_doc, report_json
from layerscope.readers import OpenOptions
from tests.conftest import require_tool


@pytest.mark.parametrize(("flags", "stored"), [((), 1), (("-no-duplicates",), 2)])
def test_squashfs_dedup_is_reported(tmp_path: Path, flags: tuple[str, ...], stored: int) -> None:
    mksquashfs = require_tool("mksquashfs")
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/lib/git-core").mkdir(parents=True)
    data = bytes(range(256)) * 800 + b"git"
    (root / "usr/bin/git").write_bytes(data)
    (root / "usr/lib/git-core/git").write_bytes(data)
    image = tmp_path / "img.sqfs"
    subprocess.run([mksquashfs, str(root), str(image), "-quiet", "-noappend", *flags],
                   check=True, capture_output=True)  # fmt: skip
    with load_image(str(image), OpenOptions(use_cache=False)) as img:
        r = analyze(img)
    dupes = r.duplicates
    assert dupes.stored_known and dupes.total_savings == len(data)
    assert [s.stored for s in dupes.sets] == [stored]
    assert dupes.stored_savings == len(data) * (stored - 1)
    doc = report_json(r)["duplicates"]
    assert doc["stored_savings"] == len(data) * (stored - 1)
    text = "\n".join(findings_doc(r).plain())
    if stored == 1:
        assert "already stores identical files once" in text
    else:
        assert "stores every copy" in text


def test_tar_layers_cannot_tell(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a").write_bytes(b"x" * 1000)
    (root / "b").write_bytes(b"x" * 1000)
    layer = tmp_path / "layer.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(layer), "."], check=True)
    with load_image(str(layer), OpenOptions(use_cache=False)) as img:
        r = analyze(img)
    assert not r.duplicates.stored_known
    assert report_json(r)["duplicates"]["stored_savings"] is None
