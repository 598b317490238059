"""OCI / Docker readers: every encoding of app:1.0 agrees with the reference files."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from layerscope.errors import CorruptImageError, UsageError
from layerscope.model.image import LayerInfo
from layerscope.readers import OpenOptions, open_image
from layerscope.readers.detect import BY_NAME
from layerscope.readers.oci.meta import map_history
from layerscope.readers.oci.reader import OciImageReader
from layerscope.readers.oci.select import host_platform, normalize_ref, platform_matches
from tests.conftest import EXPECTED, FIXTURES, require_tool
from tests.readers.test_layer_tar import parse_tv, tv_of

OCI = FIXTURES / "oci"
DOCKER = FIXTURES / "docker"
APP_10 = {
    "layout": ("oci", OCI / "app-layout", "1.0", "oci-layout"),
    "oci-archive": ("oci-archive", OCI / "app-1.0.oci-archive.tar", None, "oci-archive"),
    "docker-archive": (
        "docker-archive",
        DOCKER / "app-1.0.docker-archive.tar",
        None,
        "docker-archive",
    ),
    "zstd-layout": ("oci", OCI / "app-1.0-zstd", None, "oci-layout"),
    "dir": ("dir", FIXTURES / "dir" / "app-1.0-uncompressed", None, "dir"),
}


def open_oci(transport: str, path: str, ref: str | None, opts: OpenOptions) -> OciImageReader:
    """The reader readers.detect's table opens for `transport` (what `TRANSPORT:PATH` does)."""
    reader = BY_NAME[transport].open(path, ref, opts)
    assert isinstance(reader, OciImageReader)
    return reader


def expected_json(name: str) -> Any:
    return json.loads((EXPECTED / "oci" / name).read_text())


def open_app(kind: str, **kw: Any) -> OciImageReader:
    transport, path, ref, _ = APP_10[kind]
    return open_oci(transport, str(path), ref, OpenOptions(**kw))


def layer_lists(r: OciImageReader) -> list[list[tuple[Any, ...]]]:
    return [
        [
            (e.path, e.kind, e.mode, e.uid, e.gid, e.size, e.mtime, e.target, e.hardlink, e.xattrs)
            for e in r.iter_entries(i)
        ]
        for i in range(len(r.describe().layers))
    ]


@pytest.fixture(scope="module")
def reference() -> tuple[list[str | None], list[list[tuple[Any, ...]]]]:
    with open_app("layout") as r:
        return [layer.diff_id for layer in r.describe().layers], layer_lists(r)


@pytest.mark.parametrize("kind", list(APP_10))
def test_every_encoding_of_app_10_agrees(kind: str, reference: Any) -> None:
    diff_ids, lists = reference
    with open_app(kind) as r:
        meta = r.describe()
        assert meta.format == APP_10[kind][3]
        assert r.config_document == expected_json("app-1.0.config.json")
        assert [layer.diff_id for layer in meta.layers] == diff_ids
        assert layer_lists(r) == lists
        assert (
            meta.config_digest
            == "sha256:" + "1008696da05f005f690339e6e6b93ba60215b9b781177e404df68249409a1f90"
        )


def test_layer_entries_match_tar_listing_in_every_encoding() -> None:
    want = [
        parse_tv((EXPECTED / "oci" / f"app-1.0.layer{n}.tv.txt").read_text()) for n in range(1, 6)
    ]
    for kind in APP_10:
        with open_app(kind) as r:
            got = [[tv_of(e) for e in r.iter_entries(i)] for i in range(5)]
        assert got == want, kind


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("layout", "app-1.0.manifest.json"),
        ("oci-archive", "app-1.0.manifest.json"),
        ("zstd-layout", "app-1.0-zstd.manifest.json"),
    ],
)
def test_manifests_equal_expected(kind: str, name: str) -> None:
    with open_app(kind) as r:
        manifest = expected_json(name)
        assert r.manifest == manifest
        meta = r.describe()
        assert [layer.id for layer in meta.layers] == [d["digest"] for d in manifest["layers"]]
        assert [layer.stored_size for layer in meta.layers] == [
            d["size"] for d in manifest["layers"]
        ]
        assert [layer.media_type for layer in meta.layers] == [
            d["mediaType"] for d in manifest["layers"]
        ]


def test_meta_of_app_10() -> None:
    config = expected_json("app-1.0.config.json")
    with open_app("layout") as r:
        meta = r.describe()
    assert meta.manifest_digest == (
        "sha256:ef6abe89b8637bef364eafae6d4bb2a1d6d568a345bfebca70bfa28f10854900"
    )
    assert (meta.architecture, meta.os, meta.variant) == ("amd64", "linux", None)
    assert meta.config == config["config"]
    assert meta.labels == config["config"]["Labels"]
    assert (meta.author, meta.created) == (config["author"], config["created"])
    assert meta.history == config["history"]
    assert meta.platforms == ["linux/amd64"]
    assert meta.warnings == []
    # history: layers map to the non-empty entries; empty ones go to the next layer
    nonempty = [h for h in config["history"] if not h.get("empty_layer")]
    assert [layer.created_by for layer in meta.layers] == [h["created_by"] for h in nonempty]
    assert meta.layers[1].empty_history == [h["created_by"] for h in config["history"][1:3]]
    assert meta.layers[-1].extra["empty_history_after"] == [
        h["created_by"] for h in config["history"][7:]
    ]


def test_history_mapping_with_leftovers() -> None:
    layers = [LayerInfo(i, f"sha256:{i}", "t", 1) for i in range(2)]
    warnings: list[str] = []
    history: list[dict[str, Any]] = [
        {"created_by": "ENV a", "empty_layer": True},
        {"created_by": "ADD x"},
        {"created_by": "RUN y", "comment": "buildkit"},
        {"created_by": "RUN z (no layer)"},
        {"created_by": "CMD c", "empty_layer": True},
    ]
    map_history(layers, history, warnings)
    assert [la.created_by for la in layers] == ["ADD x", "RUN y"]
    assert layers[0].empty_history == ["ENV a"]
    assert layers[1].comment == "buildkit"
    assert layers[1].extra["empty_history_after"] == ["CMD c"]
    assert len(warnings) == 1 and "RUN z (no layer)" in warnings[0]
    short: list[str] = []
    map_history([LayerInfo(i, "d", "t", 1) for i in range(3)], history[:2], short)
    assert len(short) == 1 and "no created_by" in short[0]


def test_docker_archive_manifest_tags_and_order() -> None:
    path = DOCKER / "app-1.0.docker-archive.tar"
    manifest = expected_json("app-1.0.docker-archive.manifest.json")
    with open_oci("docker-archive", str(path), "layerscope/app:1.0", OpenOptions()) as r:
        assert r.extras["docker_manifest"] == manifest[0]
        assert r.extras["repo_tags"] == ["docker.io/layerscope/app:1.0"]
        ids = [layer.id for layer in r.describe().layers]
    assert ids == ["sha256:" + p.removesuffix(".tar") for p in manifest[0]["Layers"]]
    with pytest.raises(UsageError, match=r"docker.io/layerscope/app:1.0"):
        open_oci("docker-archive", str(path), "other:2.0", OpenOptions())


def _repack(src: Path, dest: Path, reverse: bool, edit: dict[str, bytes]) -> None:
    """Copy an archive, optionally reversing member order and replacing members."""
    with tarfile.open(src) as tin, tarfile.open(dest, "w") as tout:
        members = tin.getmembers()
        for m in reversed(members) if reverse else members:
            data = edit.get(m.name)
            if data is not None:
                m.size = len(data)
                tout.addfile(m, io.BytesIO(data))
            else:
                tout.addfile(m, tin.extractfile(m) if m.isfile() else None)


def test_docker_archive_order_comes_from_manifest_and_symlinks_resolve(tmp_path: Path) -> None:
    src = DOCKER / "app-1.0.docker-archive.tar"
    with tarfile.open(src) as t:
        links = {m.linkname.removeprefix("../"): m.name for m in t.getmembers() if m.issym()}
    manifest = expected_json("app-1.0.docker-archive.manifest.json")
    manifest[0]["Layers"] = [links[p] for p in manifest[0]["Layers"]]  # <id>/layer.tar
    dest = tmp_path / "shuffled.tar"
    _repack(src, dest, True, {"manifest.json": json.dumps(manifest).encode()})
    with open_oci("tar", str(dest), None, OpenOptions()) as r, open_app("layout") as ref:
        assert r.describe().format == "docker-archive"
        assert [la.diff_id for la in r.describe().layers] == [
            la.diff_id for la in ref.describe().layers
        ]
        assert layer_lists(r) == layer_lists(ref)


def test_docker_25_archive_reads_index_first(tmp_path: Path) -> None:
    """Docker 25+ `docker save`: an OCI layout plus manifest.json, in one tar."""
    layout = OCI / "app-layout"
    index = json.loads((layout / "index.json").read_text())
    index["manifests"] = [
        d
        for d in index["manifests"]
        if d["annotations"]["org.opencontainers.image.ref.name"] == "1.1"
    ]
    index["manifests"][0]["annotations"]["io.containerd.image.name"] = (
        "docker.io/layerscope/app:1.1"
    )
    dest = tmp_path / "docker25.tar"
    with tarfile.open(dest, "w") as t:
        for f in sorted((layout / "blobs" / "sha256").iterdir()):
            t.add(f, f"blobs/sha256/{f.name}")
        t.add(layout / "oci-layout", "oci-layout")
        for name, doc in (("index.json", index), ("manifest.json", [{"Config": "x"}])):
            data = json.dumps(doc).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    for ref in (None, "layerscope/app:1.1", "1.1"):
        with open_oci("docker-archive", str(dest), ref, OpenOptions()) as r:
            meta = r.describe()
            assert meta.format == "docker-archive"
            assert r.manifest == expected_json("app-1.1.manifest.json")
    with open_oci("tar", str(dest), None, OpenOptions()) as r:
        assert r.describe().format == "docker-archive"


def test_layout_refs() -> None:
    with pytest.raises(UsageError) as info:
        open_oci("oci", str(OCI / "app-layout"), None, OpenOptions())
    assert all(t in str(info.value) for t in ("base", "1.0", "1.1"))
    with pytest.raises(UsageError, match=r"no image tagged '2\.0'"):
        open_oci("oci", str(OCI / "app-layout"), "2.0", OpenOptions())
    with open_oci("oci", str(OCI / "app-layout"), "1.1", OpenOptions()) as r:
        assert r.manifest == expected_json("app-1.1.manifest.json")
        assert r.config_document == expected_json("app-1.1.config.json")
    with open_oci("oci", str(OCI / "app-layout"), "base", OpenOptions()) as r:
        assert len(r.describe().layers) == 1


def test_open_image_sniffs_archives_and_single_layers() -> None:
    cases = {
        str(OCI / "app-1.0.oci-archive.tar"): "oci-archive",
        str(DOCKER / "app-1.1.docker-archive.tar"): "docker-archive",
        str(OCI / "layers" / "app-1.0-layer3-whiteouts.tar.zst"): "layer",
        str(
            FIXTURES
            / "dir"
            / "app-1.0-uncompressed"
            / "11836410b3467f13e3689fca74049b0d883da7ce202965f103512078d582e273"
        ): "layer",
    }
    for ref, fmt in cases.items():
        r = open_image(ref)
        try:
            meta = r.describe()
            assert meta.format == fmt, ref
            assert sum(1 for _ in r.iter_entries(0)) > 0
        finally:
            r.close()


def _read(r: OciImageReader, path: str) -> bytes:
    (entry,) = [e for e in r.iter_entries(0) if e.path == path]
    return b"".join(r.read_content(0, entry.loc, entry.size))


def test_multiarch_platforms() -> None:
    layout = str(OCI / "multiarch-layout")
    index = expected_json("multiarch.index.json")
    for plat, arch in (
        ("linux/amd64", "amd64"),
        ("linux/arm64/v8", "arm64"),
        ("linux/arm64", "arm64"),
    ):
        with open_oci("oci", layout, None, OpenOptions(platform=plat)) as r:
            meta = r.describe()
            assert meta.platforms == ["linux/amd64", "linux/arm64/v8"]
            assert meta.architecture == arch
            assert _read(r, "/etc/arch").strip() == arch.encode()
            (desc,) = [d for d in index["manifests"] if d["platform"]["architecture"] == arch]
            assert meta.manifest_digest == desc["digest"]
    host = host_platform()
    if any(platform_matches(p, host) for p in ("linux/amd64", "linux/arm64/v8")):
        with open_oci("oci", layout, None, OpenOptions()) as r:
            assert platform_matches(f"linux/{r.describe().architecture}", host)
    with pytest.raises(UsageError) as info:
        open_oci("oci", layout, None, OpenOptions(platform="linux/s390x"))
    assert "linux/amd64" in str(info.value) and "linux/arm64/v8" in str(info.value)


def test_platform_and_ref_helpers() -> None:
    assert platform_matches("linux/arm64", "linux/arm64/v8")
    assert not platform_matches("linux/arm/v6", "linux/arm/v7")
    assert platform_matches("linux/amd64", "x86_64")
    assert normalize_ref("alpine") == "docker.io/library/alpine:latest"
    assert normalize_ref("layerscope/app:1.0") == "docker.io/layerscope/app:1.0"
    assert normalize_ref("localhost:5000/a/b@sha256:00") == "localhost:5000/a/b@sha256:00"


def test_missing_and_damaged_blobs(tmp_path: Path) -> None:
    bad = tmp_path / "layout"
    shutil.copytree(OCI / "app-layout", bad)
    blobs = bad / "blobs" / "sha256"
    config = blobs / "1008696da05f005f690339e6e6b93ba60215b9b781177e404df68249409a1f90"
    config.write_bytes(config.read_bytes().replace(b"amd64", b"arm64"))
    with (
        open_oci("oci", str(bad), "1.0", OpenOptions()) as r,
        pytest.raises(CorruptImageError, match="does not match its digest"),
    ):
        r.describe()
    (blobs / "c7766019a65137f36b4228cdef06c3f815419579b4845542cd84513179f902b2").unlink()
    with open_oci("oci", str(bad), "1.1", OpenOptions()) as r:
        assert r.describe().layers  # other images of the layout still open
    with open_oci("oci", str(bad), "1.0", OpenOptions()) as r, pytest.raises(CorruptImageError):
        list(r.iter_entries(2))
    (bad / "index.json").write_text("{not json")
    with pytest.raises(CorruptImageError, match=r"index\.json"):
        open_oci("oci", str(bad), "1.0", OpenOptions())


def test_skopeo_dir_of_a_multiarch_index(tmp_path: Path) -> None:
    skopeo = require_tool("skopeo")
    dest = tmp_path / "multi"
    subprocess.run(
        [skopeo, "copy", "--all", f"oci:{OCI / 'multiarch-layout'}:1.0", f"dir:{dest}"],
        check=True,
        capture_output=True,
    )
    index = expected_json("multiarch.index.json")
    for plat, arch in (("linux/amd64", "amd64"), ("linux/arm64", "arm64")):
        with open_oci("dir", str(dest), None, OpenOptions(platform=plat)) as r:
            meta = r.describe()
            assert meta.format == "dir"
            assert meta.platforms == ["linux/amd64", "linux/arm64/v8"]
            (desc,) = [d for d in index["manifests"] if d["platform"]["architecture"] == arch]
            assert meta.manifest_digest == desc["digest"]
            assert _read(r, "/etc/arch").strip() == arch.encode()
