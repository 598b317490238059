"""containers-storage: against real stores buildah wrote (vfs and overlay drivers), compared
with what podman save, skopeo copy and umoci unpack make of the same image."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import layerscope
from layerscope.errors import NotFoundError, ReaderError, UsageError
from layerscope.readers import OpenOptions, open_image
from layerscope.readers.containers_storage.config import find_store, parse_store_spec
from layerscope.readers.containers_storage.reader import StoreReader
from tests.cli.run import proc
from tests.engines import (
    APP,
    BASE,
    StoreInfo,
    build_store,
    podman_save,
    skopeo_copy,
    umoci_unpack,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["vfs", "overlay", "fuse-overlayfs"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> StoreInfo:
    # short names: podman refuses a runroot path longer than 50 characters
    short = {"vfs": "v", "overlay": "o", "fuse-overlayfs": "f"}[request.param]
    return build_store(tmp_path_factory.mktemp(f"cs-{short}"), request.param)


def tree(ref: str) -> list[tuple[Any, ...]]:
    """Every entry of the merged tree with every attribute, and each file's bytes."""
    with layerscope.open(ref, use_cache=False) as img:
        rows = []
        for e in img.ls("/"):
            data = img.read_path(e.path) if e.kind.json_name == "file" else None
            rows.append((e.path, e.kind.json_name, e.mode, e.uid, e.gid, e.size, e.mtime,
                         e.target, e.rdev, e.xattrs, data))  # fmt: skip
        return rows


def test_tree_equals_podman_save_and_skopeo_oci(store: StoreInfo, tmp_path: Path) -> None:
    archive = podman_save(store, APP, tmp_path / "app.tar")
    skopeo_copy(store, APP, f"oci:{tmp_path / 'layout'}:app")
    mine = tree(store.spec(APP))
    assert mine == tree(f"docker-archive:{archive}")
    assert mine == tree(f"oci:{tmp_path / 'layout'}:app")
    paths = {row[0] for row in mine}
    # what layer 1 did: a whiteout, an opaque directory, a deleted directory, a hard link
    assert "/etc/motd" not in paths and "/var/cache/apt" not in paths
    assert "/opt/app/conf/c.conf" in paths and "/opt/app/conf/a.conf" not in paths
    assert "/opt/app/new-link.bin" in paths


def test_tree_equals_umoci_unpack(store: StoreInfo, tmp_path: Path) -> None:
    skopeo_copy(store, APP, f"oci:{tmp_path / 'layout'}:app")
    rootfs = umoci_unpack(tmp_path / "layout", "app", tmp_path / "bundle")
    listed = proc("ls", "--json", "--no-cache", store.spec(APP))
    assert listed.code == 0, listed.err
    links = {e["path"]: e["links"] for e in listed.json()["entries"]}
    with layerscope.open(store.spec(APP), use_cache=False) as img:
        mine = {e.path: e for e in img.ls("/") if e.path != "/"}
        theirs = {"/" + str(p.relative_to(rootfs)): p for p in rootfs.rglob("*")}
        assert set(mine) == set(theirs)
        for path, e in mine.items():
            st = theirs[path].lstat()
            kind = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink",
                    stat.S_IFIFO: "fifo"}[stat.S_IFMT(st.st_mode)]  # fmt: skip
            assert (e.kind.json_name, e.mode, e.uid, e.gid) == (
                kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), path  # fmt: skip
            if kind == "file":
                assert img.read_path(path) == theirs[path].read_bytes(), path
                assert links[path] == st.st_nlink, path
            if kind == "symlink":
                assert e.target == os.readlink(theirs[path])


def test_layers_and_metadata_match_the_saved_image(store: StoreInfo, tmp_path: Path) -> None:
    archive = podman_save(store, APP, tmp_path / "app.tar")
    saved = open_image(f"docker-archive:{archive}").describe()
    reader = open_image(store.spec(APP))
    try:
        assert isinstance(reader, StoreReader)
        meta = reader.describe()
        assert meta.format == "containers-storage"
        assert [la.diff_id for la in meta.layers] == [la.diff_id for la in saved.layers]
        assert [la.created_by for la in meta.layers] == [la.created_by for la in saved.layers]
        assert meta.labels == saved.labels == {"stage": APP, "io.buildah.version": meta.labels[
            "io.buildah.version"]}  # fmt: skip
        assert meta.config == saved.config
        assert meta.config_digest == saved.config_digest == "sha256:" + reader.image.id
        assert [la.whiteouts for la in meta.layers] == ["oci", "oci"]
        assert all(la.extra["listed_from"] == "tar-split" for la in meta.layers)
        # the index cache may keep the layers: each has an identity, stable across opens
        ids = [reader.layer_identity(i) for i in range(2)]
        assert all(ids) and ids == [open_image(store.spec(APP)).layer_identity(i) for i in (0, 1)]
    finally:
        reader.close()


def test_names_ids_and_digests(store: StoreInfo) -> None:
    reader = open_image(store.spec(APP))
    assert isinstance(reader, StoreReader)
    image_id = reader.image.id
    reader.close()
    for name in ("cs-app:1", "localhost/cs-app:1", f"@{image_id}", image_id[:12]):
        r = open_image(store.spec(name))
        assert isinstance(r, StoreReader) and r.image.id == image_id, name
        r.close()
    r = open_image(store.spec(BASE))
    assert isinstance(r, StoreReader) and len(r.describe().layers) == 1
    r.close()
    with pytest.raises(NotFoundError, match="no image 'cs-app:2'"):
        open_image(store.spec("cs-app:2"))
    with pytest.raises(UsageError, match="unterminated"):
        open_image("containers-storage:[vfs@/x")


def test_missing_image_is_one_line_exit_2(store: StoreInfo) -> None:
    r = proc("ls", store.spec("localhost/nope:1"))
    assert r.code == 2 and r.out == b""
    assert r.err.count("\n") == 1 and "no image 'localhost/nope:1'" in r.err


def test_overlay_layer_without_tar_split_walks_its_diff_dir(
    store: StoreInfo, tmp_path: Path
) -> None:
    """Overlayfs whiteouts (0/0 devices, opaque xattrs) in diff/ give the same tree; a vfs
    layer directory is a full copy of the tree, so without tar-split it is refused."""
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(store.root), str(copy)], check=True)
    layers = "overlay-layers" if store.driver == "overlay" else "vfs-layers"
    for f in (copy / layers).glob("*.tar-split.gz"):
        f.unlink()
    walked = StoreInfo(copy, store.runroot, store.driver, store.variant)
    if store.driver != "overlay":
        r = proc("ls", walked.spec(APP))
        assert r.code == 3 and "vfs layer without tar-split" in r.err, r.err
        return
    # fuse-overlayfs cannot make 0/0 devices: that store keeps `.wh.` files in diff/
    style = "oci" if store.fuse else "overlayfs"
    reader = open_image(walked.spec(APP))
    try:
        meta = reader.describe()
        assert [la.whiteouts for la in meta.layers] == [style, style]
        assert reader.layer_identity(1) is None  # a directory: not cached
    finally:
        reader.close()
    walked_tree = tree(walked.spec(APP))
    conf = next(r for r in walked_tree if r[0] == "/opt/app/conf")
    if not store.fuse:  # the kernel's opaque marker stays visible as an xattr
        assert conf[9] == {"trusted.overlay.opaque": b"y"}
    got = [row if row[0] != "/opt/app/conf" else (*row[:9], None, row[10])
           for row in walked_tree]  # fmt: skip
    assert got == tree(store.spec(APP))


def test_locks_held_by_a_writer_do_not_block_a_read(store: StoreInfo) -> None:
    """podman holds fcntl locks on these files while it writes; we never wait on them."""
    locks = [store.root / "storage.lock",
             *store.root.glob(f"{store.driver}-*/*.lock")]  # fmt: skip
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time\n"
         "fs = [open(p, 'r+') for p in sys.argv[1:]]\n"
         "[fcntl.lockf(f, fcntl.LOCK_EX) for f in fs]\n"
         "print('locked', flush=True); time.sleep(120)\n",
         *map(str, locks)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        r = proc("ls", "--no-cache", store.spec(APP), "/etc/os-release", timeout=120)
        assert r.code == 0, r.err
        assert b"/etc/os-release" in r.out
    finally:
        holder.kill()
        holder.wait()


def test_a_layer_removed_while_read_is_a_clear_error(store: StoreInfo, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(store.root), str(copy)], check=True)
    info = StoreInfo(copy, tmp_path / "run", store.driver)
    img = layerscope.open(info.spec(APP), use_cache=False)
    try:
        node = img.find("/opt/app/new.bin")
        # podman rmi while we read: the layer's files and tar-split data go away
        subprocess.run(["buildah", *info.args(), "rmi", "-f", APP], check=True,
                       capture_output=True)  # fmt: skip
        with pytest.raises(ReaderError, match=r"no longer in the store|is gone"):
            img.read(node)
    finally:
        img.close()
    r = proc("ls", "--no-cache", info.spec(APP))
    assert r.code == 2 and "no image" in r.err


def test_bare_name_resolves_through_storage_conf(store: StoreInfo, tmp_path: Path) -> None:
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "{store.driver}"\ngraphroot = "{store.root}"\n'
                    f'runroot = "{store.runroot}"\n')  # fmt: skip
    env = {"CONTAINERS_STORAGE_CONF": str(conf),
           "DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"}  # fmt: skip
    r = proc("ls", "--no-cache", "--json", "cs-app:1", "/etc", env=env)
    assert r.code == 0, r.err
    assert r.json()["image"]["format"] == "containers-storage"
    r = proc("ls", "--no-cache", "cs-missing:1", env=env)
    assert r.code == 2 and r.out == b""
    assert r.err.count("\n") == 1
    assert "containers-storage: no image 'cs-missing:1'" in r.err
    assert "docker-daemon" in r.err and "docker://cs-missing:1" in r.err


def test_store_location_as_podman_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTAINERS_STORAGE_CONF", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    loc = find_store()
    if not any(Path(p).exists() for p in ("/etc/containers/storage.conf",
                                          "/usr/share/containers/storage.conf")):  # fmt: skip
        assert loc.root == str(tmp_path / "data/containers/storage")
        assert loc.origin == "the rootless default"
    user_conf = tmp_path / "cfg/containers/storage.conf"
    user_conf.parent.mkdir(parents=True)
    user_conf.write_text(
        '[storage]\ndriver = "vfs"\ngraphroot = "/srv/$UID/store"\n'
        '[storage.options]\nadditionalimagestores = ["/shared/images"]\n'
    )
    loc = find_store()
    assert (loc.root, loc.driver) == ("/srv/1000/store", "vfs")
    assert loc.additional == ("/shared/images",)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(user_conf))
    assert find_store().root == "/srv/0/store"
    assert find_store("/elsewhere").origin == "--storage-root"
    assert parse_store_spec("[overlay@/var/lib/c+/run/c]app:1") == (
        "overlay",
        "/var/lib/c",
        "app:1",
    )
    assert parse_store_spec("[/var/lib/c]@abc") == (None, "/var/lib/c", "@abc")
    assert parse_store_spec("app") == (None, None, "app")


def test_inspect_json_names_the_store_layers(store: StoreInfo) -> None:
    r = proc("inspect", "--json", "--no-cache", store.spec(APP))
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["image"]["format"] == "containers-storage"
    assert [la["extra"]["listed_from"] for la in doc["layers"]] == ["tar-split", "tar-split"]
    assert all(isinstance(la["entries"], int) and la["entries"] > 0 for la in doc["layers"])
    assert json.dumps(doc)  # plain JSON all through


def test_storage_root_option(store: StoreInfo) -> None:
    r = proc("ls", "--no-cache", "--storage-root", str(store.root),
             f"containers-storage:{APP}", "/etc/os-release")  # fmt: skip
    assert r.code == 0, r.err
    opts = OpenOptions(storage_root=str(store.root), use_cache=False)
    reader = open_image("containers-storage:cs-base:1", opts)
    assert isinstance(reader, StoreReader) and reader.store.root == str(store.root)
    reader.close()


@pytest.mark.parametrize("damage", ["truncated", "not-json", "unknown-record"])
def test_damaged_tar_split_is_exit_3_with_one_line(
    store: StoreInfo, tmp_path: Path, damage: str
) -> None:
    import gzip

    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(store.root), str(copy)], check=True)
    info = StoreInfo(copy, tmp_path / "run", store.driver)
    reader = open_image(info.spec(APP))
    assert isinstance(reader, StoreReader)
    split = Path(reader.store.tar_split(reader.chain[1].id))
    reader.close()
    data = split.read_bytes()
    if damage == "truncated":
        split.write_bytes(data[: len(data) // 2])
    elif damage == "not-json":
        split.write_bytes(gzip.compress(b'{"type": 2, "payload": \n'))
    else:
        split.write_bytes(gzip.compress(b'{"type": 7}\n'))
    r = proc("ls", "--no-cache", info.spec(APP))
    assert r.code == 3 and r.out == b"", r.err
    assert r.err.count("\n") == 1
    assert "tar-split" in r.err or str(split) in r.err
