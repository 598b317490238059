"""Duplicates on a real squashfs (the payload of a SIF): mksquashfs stores identical files
once, and says how many it found; layerscope counts the same copies as stored once."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from layerscope.engine.analysis import analyze
from layerscope.engine.loading import load_image
from layerscope.model.entry import EntryKind
from layerscope.readers import OpenOptions
from tests.conftest import require_tool


def test_deduplicated_copies_equal_mksquashfs_count(minbase: Path, tmp_path: Path) -> None:
    mksquashfs = require_tool("mksquashfs")
    image = tmp_path / "minbase.sqfs"
    cmd = [mksquashfs, str(minbase), str(image), "-noappend", "-no-progress"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=900).stdout
    found = re.search(r"Number of duplicate files found (\d+)", out)
    assert found is not None, out
    with load_image(str(image), OpenOptions(use_cache=False)) as img:
        dupes = analyze(img).duplicates
        tree = img.tree
        empty = sum(1 for n in tree.walk() if tree.kind[n] == EntryKind.FILE and not tree.size[n])
    assert dupes.stored_known and dupes.complete
    # copies in the tree that the image does not store again; mksquashfs also counts
    # every empty file as a duplicate (layerscope reports no duplicates of nothing)
    deduplicated = sum(len(s.paths) - s.stored for s in dupes.sets)
    assert deduplicated > 50
    assert deduplicated + empty == int(found.group(1))
    assert dupes.stored_savings < dupes.total_savings
