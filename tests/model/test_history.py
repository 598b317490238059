"""Per-path history (FileTree.shadows) stays linear in the layers written and answers as the
list-per-node history it replaced did; a deep stack of identical layers opens in bounded
memory (peak RSS of a child process, never a time)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerscope.model import layers as layers_mod
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.history import Shadows
from layerscope.model.layers import WhiteoutStyle, apply_layers
from layerscope.model.tree import FileTree
from layerscope.model.tree_codec import TreeCodecError, decode_tree, encode_tree
from tests.conftest import ROOT, require_tool
from tests.model.test_layers_property import layer


def _reference_histories(
    stack: list[tuple[list[Entry], WhiteoutStyle]], monkeypatch: pytest.MonkeyPatch
) -> dict[int, list[int]]:
    """The histories the old implementation kept: a copied list per node."""
    ref: dict[int, list[int]] = {}

    def copying_shadow(tree: FileTree, node: int, old: int, layer: int) -> None:
        history = list(ref.get(old, ()))
        old_layer = tree.layer[old]
        if old_layer >= 0 and old_layer != layer:
            history.append(old_layer)
        if history:
            ref[node] = history

    with monkeypatch.context() as m:
        m.setattr(layers_mod, "_shadow", copying_shadow)
        apply_layers(stack)
    return ref


@settings(max_examples=400, deadline=None)
@given(st.lists(layer(), min_size=1, max_size=6))
def test_histories_equal_the_copying_reference(
    stack: list[tuple[list[Entry], WhiteoutStyle]],
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        want = _reference_histories(stack, mp)
    tree = apply_layers(stack)
    assert dict(tree.shadows.items()) == want
    assert tree.shadows == want and len(tree.shadows) == len(want)
    for node in range(len(tree) + 2):
        assert (node in tree.shadows) == (node in want)
        assert tree.shadows.get(node) == want.get(node)
    again = decode_tree(b"".join(bytes(p) for p in encode_tree(tree)))
    assert again.shadows == tree.shadows


def _identical_layers(n: int) -> FileTree:
    files = [f"/app/f{i}" for i in range(3)]
    stack: list[tuple[list[Entry], WhiteoutStyle]] = []
    for _ in range(n):
        entries = [Entry("/app", EntryKind.DIR, 0o755)]
        entries += [Entry(p, EntryKind.FILE, size=4, loc=i) for i, p in enumerate(files)]
        stack.append((entries, "oci"))
    return apply_layers(stack)


def test_a_deep_stack_stores_one_cell_per_rewrite() -> None:
    n = 300
    tree = _identical_layers(n)
    app = tree.lookup("/app")
    top = tree.lookup("/app/f0")
    assert app is not None and top is not None
    assert tree.shadows[top] == list(range(n - 1))
    assert tree.shadows[app] == list(range(n - 1))  # a directory rewritten in place
    # what would once have been ~4 * n^2 / 2 stored layer numbers is ~4 * n cells
    cells = tree.shadows.columns()[2]
    assert len(cells) == 4 * (n - 1)


def test_malformed_history_columns_are_codec_errors() -> None:
    tree = _identical_layers(3)
    parts = [bytes(p) for p in encode_tree(tree)]
    _, _, cells, links = tree.shadows.columns()
    assert len(cells) > 1
    at = next(i for i, p in enumerate(parts) if p == links.tobytes())
    looped = links.__copy__()
    looped[0] = len(cells) - 1  # the oldest cell linking forward would make a loop
    parts[at] = looped.tobytes()  # same length: the framing still holds
    with pytest.raises(TreeCodecError, match="history"):
        decode_tree(b"".join(parts))


def test_shadows_is_a_read_only_mapping() -> None:
    s = Shadows()
    s.record(5, 2, 0, 1)
    s.record(9, 5, 1, 2)
    assert dict(s) == {5: [0], 9: [0, 1]} and len(s) == 2
    with pytest.raises(KeyError):
        s[3]
    with pytest.raises(KeyError):
        s[-1]


# -- a real OCI layout: umoci makes one 300-file layer, its manifest lists it N times ----------


def _repeated_layout(tmp: Path, layers: int, files: int = 300) -> str:
    umoci = require_tool("umoci")
    tar = require_tool("tar")
    rootfs = tmp / "rootfs" / "app"
    rootfs.mkdir(parents=True)
    for i in range(files):
        (rootfs / f"file-{i:03d}.txt").write_text(f"content {i}\n")
    layer_tar = tmp / "layer.tar"
    subprocess.run([tar, "-C", str(tmp / "rootfs"), "-cf", str(layer_tar), "app"], check=True)
    layout = tmp / "layout"
    for args in (
        ["init", "--layout", str(layout)],
        ["new", "--image", f"{layout}:t"],
        ["raw", "add-layer", "--image", f"{layout}:t", str(layer_tar)],
    ):
        subprocess.run([umoci, *args], check=True, capture_output=True)
    _repeat_layer(layout, layers)
    return f"oci:{layout}:t"


def _repeat_layer(layout: Path, n: int) -> None:
    """List the manifest's one layer n times (with its diff_id and history n times)."""
    blobs = layout / "blobs" / "sha256"
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"][7:]).read_text())
    config = json.loads((blobs / manifest["config"]["digest"][7:]).read_text())
    assert len(manifest["layers"]) == 1
    manifest["layers"] *= n
    config["rootfs"]["diff_ids"] *= n
    config["history"] = (config.get("history") or [{"created_by": "umoci"}])[:1] * n

    def put(doc: object) -> tuple[str, int]:
        data = json.dumps(doc).encode()
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return "sha256:" + digest, len(data)

    manifest["config"]["digest"], manifest["config"]["size"] = put(config)
    index["manifests"][0]["digest"], index["manifests"][0]["size"] = put(manifest)
    (layout / "index.json").write_text(json.dumps(index))


# The CLI in a child that prints its own peak RSS (kB) on stderr at exit: VmHWM, not
# getrusage's ru_maxrss, which Linux keeps across fork and exec (a child of a large pytest
# process would report its parent's peak).
RSS_CHILD = """
import atexit, sys
def hwm():
    return next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:"))
atexit.register(lambda: sys.stderr.write(f"\\nMAXRSS {hwm()}\\n"))
from layerscope.cli import main
main(sys.argv[1:])
"""


@pytest.mark.slow
def test_500_identical_layers_open_in_bounded_memory(tmp_path: Path) -> None:
    """0.1.0 peaked at 367 MB here (each rewrite copied the path's history); the tree of
    150,300 nodes needs ~50 MB. 150 MB is a generous bound, far below the quadratic cost."""
    ref = _repeated_layout(tmp_path, 500)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    r = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, "ls", "--json", "--no-cache", ref],
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    err = r.stderr.decode()
    assert r.returncode == 0, err
    paths = {e["path"] for e in json.loads(r.stdout)["entries"]}
    assert paths == {"/", "/app", *(f"/app/file-{i:03d}.txt" for i in range(300))}
    rss_kb = int(err.rsplit("MAXRSS ", 1)[1].split()[0])
    assert rss_kb < 150 * 1024, f"peak RSS {rss_kb} kB"
