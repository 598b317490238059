"""The cache on a shared login node (issue 14, item 4): private modes, no symlink inside the
cache ever followed (a planted `index/tree/zz -> ~/thesis` or a symlinked `blobs/sha256`
must not make `cache clear` or eviction delete elsewhere), only the cache's own names
removed, a cache directory owned by somebody else refused, and a cached blob that changed
on disk never served. Each attack is built by the test."""

from __future__ import annotations

import hashlib
import os
import stat
from contextlib import closing
from pathlib import Path

import pytest

from layerscope.cache.blobs import BlobCache
from layerscope.cache.verified import VerifiedBlob
from layerscope.errors import RegistryError, UsageError
from layerscope.readers import OpenOptions, open_image
from tests.cache.support import BASE, STAGE1, cache_dir, cache_files, load
from tests.cli.run import Result, cli, proc
from tests.conftest import FIXTURES

pytest_plugins = ["tests.registry_server"]

INSECURE = OpenOptions(tls_verify=False)
LAYER = FIXTURES / "oci" / "layers" / "app-1.0-layer3-whiteouts.tar.gz"


def _victim(tmp_path: Path) -> dict[Path, bytes]:
    """A directory of somebody's precious files, some named like cache files."""
    home = tmp_path / "thesis"
    (home / "ab").mkdir(parents=True)
    files = {
        home / "chapter1.tex": b"years of work",
        home / ("0" * 40 + ".lsc"): b"named like an index entry",
        home / ("1" * 64): b"named like a blob",
        home / "ab" / ("2" * 40 + ".lsc"): b"one level down",
    }
    for path, data in files.items():
        path.write_bytes(data)
    return files


def _intact(files: dict[Path, bytes]) -> None:
    for path, data in files.items():
        assert path.read_bytes() == data, f"{path} was touched"


def _one_line(r: Result, code: int, needle: str) -> None:
    assert r.code == code, r.err
    assert r.err.count("\n") == 1 and needle in r.err and "Traceback" not in r.err, r.err


# --- modes ----------------------------------------------------------------------------------


def test_directories_0700_files_0600(registry_addr: str) -> None:
    root = cache_dir()
    root.mkdir(mode=0o755)  # as an older layerscope made it
    os.chmod(root, 0o755)
    old = os.umask(0o022)
    try:
        load(BASE)
        with closing(open_image(f"docker://{registry_addr}/layerscope/app:1.0", INSECURE)) as r:
            list(r.iter_entries(0))
    finally:
        os.umask(old)
    paths = [root, *root.rglob("*")]
    dirs = [p for p in paths if p.is_dir()]
    files = [p for p in paths if p.is_file()]
    assert len(dirs) >= 6 and len(files) >= 3
    for p in dirs:
        assert stat.S_IMODE(p.stat().st_mode) == 0o700, p
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


# --- symlinks planted in the cache -----------------------------------------------------------


@pytest.mark.parametrize(
    "plant",
    ["index/tree/zz", "index/tree/ab", "index/layer", "index", "blobs/sha256", "blobs"],
)
def test_clear_never_follows_a_planted_symlink(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], plant: str
) -> None:
    files = _victim(tmp_path)
    load(BASE)
    link = cache_dir() / plant
    if link.exists():
        for p in sorted(link.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        link.rmdir()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(tmp_path / "thesis", target_is_directory=True)
    r = cli(capsysbinary, "cache", "clear")
    assert r.code == 0, r.err
    _intact(files)
    assert link.is_symlink()  # not ours: left as it is
    if not plant.startswith("index"):
        assert cache_files() == []


def test_eviction_never_follows_a_symlinked_blob_dir(
    tmp_path: Path, registry_addr: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _victim(tmp_path)
    blobs = cache_dir() / "blobs"
    blobs.mkdir(parents=True)
    (blobs / "sha256").symlink_to(tmp_path / "thesis", target_is_directory=True)
    monkeypatch.setenv("LAYERSCOPE_BLOB_CACHE_MAX", "1")  # evict all it can
    BlobCache(cache_dir()).evict(0, keep=set())
    _intact(files)
    r = proc("ls", f"docker://{registry_addr}/layerscope/app:1.0", "--tls-verify=false")
    _one_line(r, 4, "cannot write")  # the pull will not write through the link either
    _intact(files)
    # and nothing was written there
    want = {p.name for p in files if p.parent.name == "thesis"} | {"ab"}
    assert {p.name for p in (tmp_path / "thesis").iterdir()} == want


def test_only_the_caches_own_names_are_removed(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    load(BASE)
    load(STAGE1)
    (entry, *_) = cache_files("tree")
    notes = entry.with_name("notes.txt")
    notes.write_bytes(b"mine")
    blobs = cache_dir() / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    readme = blobs / "README"
    readme.write_bytes(b"mine too")
    fifo = entry.with_name("3" * 40 + ".lsc.fifo")
    os.mkfifo(fifo)
    r = cli(capsysbinary, "cache", "clear")
    assert r.code == 0 and b"removed 2 files" in r.out, r.out
    assert notes.read_bytes() == b"mine" and readme.read_bytes() == b"mine too"
    assert fifo.exists() and [p for p in cache_files() if p.suffix == ".lsc"] == []


def test_a_fifo_under_a_cache_name_is_a_miss() -> None:
    load(BASE)
    (entry,) = cache_files("tree")
    entry.unlink()
    os.mkfifo(entry)  # opening it for reading would wait for a writer for ever
    again = load(BASE)
    assert again.tree.lookup("/bin/sh") is not None or len(list(again.tree.walk())) > 0


# --- a cache directory owned by somebody else ---------------------------------------------


def _foreign_root(tmp_path: Path) -> Path:
    root = cache_dir()
    if os.getuid() == 0:
        root.mkdir()
        (root / "index").mkdir()
        (root / "index" / "planted").write_bytes(b"theirs")
        os.chown(root, 65534, 65534)
    else:  # a directory we do not own, through a symlink: the root may be one
        root.symlink_to("/", target_is_directory=True)
    return root


def test_foreign_cache_directory_is_refused(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    root = _foreign_root(tmp_path)
    before = sorted(str(p) for p in root.rglob("*")) if os.getuid() == 0 else []
    for args in (("ls", str(BASE)), ("cache", "clear"), ("cache", "info")):
        r = cli(capsysbinary, *args)
        _one_line(r, 2, "not to you")
        assert "--no-cache" in r.err
    assert cli(capsysbinary, "ls", "--no-cache", str(BASE)).code == 0
    if os.getuid() == 0:
        assert sorted(str(p) for p in root.rglob("*")) == before
        assert root.stat().st_uid == 65534 and (root / "index" / "planted").exists()
    digest = "sha256:" + hashlib.sha256(b"x").hexdigest()
    with pytest.raises(UsageError):
        BlobCache(root).put_bytes(digest, b"x")
    with pytest.raises(UsageError):  # nor read from: its entries could be anybody's
        BlobCache(root).has(digest)


# --- a cached blob changed on disk ---------------------------------------------------------


def _cached_layer(tmp_path: Path) -> tuple[BlobCache, str, bytes]:
    data = LAYER.read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    cache = BlobCache(tmp_path / "c")
    cache.put_bytes(digest, data)
    return cache, digest, data


def _same_size_other_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    os.chmod(path, 0o600)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["whole", "prefix", "seek", "head-only"])
def test_changed_blob_is_caught_however_it_is_read(tmp_path: Path, how: str) -> None:
    cache, digest, data = _cached_layer(tmp_path)
    with cache.open(digest) as f:  # the untouched blob reads cleanly, whatever the pattern
        assert f.read() == data
    _same_size_other_bytes(cache.path(digest))
    assert cache.has(digest, len(data))  # same name, same size: only the bytes tell
    f = cache.open(digest)
    assert isinstance(f, VerifiedBlob)  # changed since verified: hashed again
    with pytest.raises(RegistryError, match="changed on disk") as e:
        if how == "whole":
            f.read()
        elif how == "prefix":
            f.read(10)
            f.close()  # the rest is hashed here
        elif how == "seek":
            f.seek(len(data) - 5)
            f.read(5)
        else:
            f.close()
    f.close()
    assert digest in str(e.value) and "\n" not in str(e.value)
    assert not cache.has(digest), "a changed blob must leave the cache"


def test_verified_blob_is_not_hashed_twice(tmp_path: Path) -> None:
    cache, digest, data = _cached_layer(tmp_path)
    with cache.open(digest) as f:
        assert isinstance(f, VerifiedBlob)
        f.seek(100)
        assert f.read(10) == data[100:110]
    with cache.open(digest) as g:  # the same file, verified whole by the close above
        assert not isinstance(g, VerifiedBlob)
        assert g.read() == data


def test_changed_blob_is_not_served_by_the_cli(
    registry_addr: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    ref = f"docker://{registry_addr}/layerscope/app:1.0"
    first = proc("ls", "--json", ref, "--tls-verify=false")
    assert first.code == 0, first.err
    with closing(open_image(ref, INSECURE)) as img:
        layer = img.describe().layers[1].id
    path = cache_dir() / "blobs" / "sha256" / layer.removeprefix("sha256:")
    _same_size_other_bytes(path)
    assert cli(capsysbinary, "cache", "clear", "--keep-blobs").code == 0  # force a re-read
    r = proc("ls", "--json", ref, "--tls-verify=false")
    _one_line(r, 4, "changed on disk")
    assert layer in r.err and not path.exists()
    again = proc("ls", "--json", ref, "--tls-verify=false")  # downloaded anew
    assert again.code == 0 and again.out == first.out, again.err
