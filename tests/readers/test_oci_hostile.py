"""Hostile OCI layouts and layers: blobs that are not regular files, members named with
'..' (compared with `umoci unpack`)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from layerscope.engine.loading import load_image
from layerscope.model.bloat.waste import content_key
from layerscope.model.entry import EntryKind
from layerscope.readers import OpenOptions
from tests.conftest import FIXTURES, require_tool
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


# -- tar members named with '..' ---------------------------------------------------------------

KEY = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\n"
    b"b3BlbnNzaC1rZXktdjEAAAAA\n"
    b"-----END OPENSSH PRIVATE KEY-----\n"
)
DOTDOT = {  # member name -> where umoci unpack puts it
    "x/../root/.ssh/id_rsa": "/root/.ssh/id_rsa",
    "app/../.env": "/.env",
    "../../etc/escape": "/etc/escape",
    "a/b/../../c/d": "/c/d",
}


def _dotdot_layer(dest: Path) -> Path:
    """An uncompressed layer as a hostile builder writes it (tarfile keeps names as given)."""

    def add(t: tarfile.TarFile, name: str, data: bytes = b"", link: str | None = None) -> None:
        info = tarfile.TarInfo(name)
        info.mtime = 1_700_000_000
        if name.endswith("/"):
            info.type, info.mode = tarfile.DIRTYPE, 0o755
        elif link is not None:
            info.type, info.linkname, info.mode = tarfile.LNKTYPE, link, 0o600
        else:
            info.size, info.mode = len(data), 0o600
        t.addfile(info, io.BytesIO(data) if info.isfile() else None)

    with tarfile.open(dest, "w", format=tarfile.GNU_FORMAT) as t:
        add(t, "x/")
        add(t, "x/../root/.ssh/id_rsa", KEY)
        add(t, "app/../.env", b"SECRET_TOKEN=s3cr3t\n")
        add(t, "../../etc/escape", b"up\n")
        add(t, "a/b/../../c/d", b"d\n")
        add(t, "x/../hl", link="app/../.env")  # a hard link whose target has '..' too
        add(t, "./plain", b"plain\n")  # cleaned as always, without a warning
    return dest


def _umoci_image(tmp_path: Path, layer: Path) -> str:
    umoci = require_tool("umoci")
    layout = tmp_path / "layout"
    for args in (
        ["init", "--layout", str(layout)],
        ["new", "--image", f"{layout}:t"],
        ["raw", "add-layer", "--image", f"{layout}:t", str(layer)],
    ):
        subprocess.run([umoci, *args], check=True, capture_output=True)
    return f"{layout}:t"


def _unpacked(root: Path) -> dict[str, tuple[str, bytes | None, int]]:
    """What umoci unpack extracted: path -> (kind, content of files, inode number)."""
    out: dict[str, tuple[str, bytes | None, int]] = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        kind = "dir" if p.is_dir() else "file"
        out["/" + str(p.relative_to(root))] = (
            kind,
            p.read_bytes() if kind == "file" else None,
            st.st_ino,
        )
    return out


def test_dotdot_members_land_where_umoci_unpacks_them(tmp_path: Path) -> None:
    """Such members used to be dropped, so `check` passed an image holding a private
    key: each is now placed where the runtime extracts it, the merged tree equals
    `umoci unpack`'s rootfs (names, kinds, contents, hard links), and the image's warnings
    name every member that was moved."""
    image = _umoci_image(tmp_path, _dotdot_layer(tmp_path / "layer.tar"))
    bundle = tmp_path / "bundle"
    subprocess.run(
        [require_tool("umoci"), "unpack", "--rootless", "--image", image, str(bundle)],
        check=True,
        capture_output=True,
    )
    want = _unpacked(bundle / "rootfs")
    img = load_image(f"oci:{image}", OpenOptions(use_cache=False))
    try:
        tree = img.tree
        got = {}
        for node in tree.walk():
            kind = EntryKind(tree.kind[node]).json_name
            data = img.read(node) if kind == "file" else None
            got[tree.path(node)] = (kind, data)
        assert got == {path: (kind, data) for path, (kind, data, _) in want.items()}
        assert want["/hl"][2] == want["/.env"][2]  # umoci made a hard link ...
        hl, env = tree.lookup("/hl"), tree.lookup("/.env")
        assert hl is not None and env is not None
        assert content_key(tree, hl) == content_key(tree, env)  # ... and so is this one
        warnings = "\n".join(img.meta.warnings)
    finally:
        img.close()
    assert "6 name(s) with '..'" in warnings, warnings
    for name, placed in DOTDOT.items():
        assert f"{name} -> {placed}" in warnings
    assert "hard link to app/../.env -> /.env" in warnings
    assert "plain" not in warnings


def test_check_finds_the_key_a_dotdot_member_hid(tmp_path: Path) -> None:
    image = _umoci_image(tmp_path, _dotdot_layer(tmp_path / "layer.tar"))
    r = run_cli("check", "--no-cache", "--rule", "no-secrets=true", f"oci:{image}")
    assert r.code == 1, r.err
    assert b"/root/.ssh/id_rsa" in r.out and b"/.env" in r.out
    for attempt in ("first open", "reopen"):  # a listing that warned is not served cached
        r = run_cli("ls", f"oci:{image}")
        assert r.code == 0, r.err
        listed = {line.split()[-1] for line in r.out.decode().splitlines()}
        assert set(DOTDOT.values()) | {"/hl", "/plain"} <= listed
        warned = [line for line in r.err.splitlines() if line.startswith("layerscope: warning:")]
        assert len(warned) == 1 and "x/../root/.ssh/id_rsa -> /root/.ssh/id_rsa" in warned[0], (
            attempt,
            r.err,
        )
