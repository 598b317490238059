"""layerscope.limits: every safety limit is documented, overridable, and when hit says so in
one line naming the limit and the variable that raises it (exit 3)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerscope import limits
from layerscope.errors import CorruptImageError, LimitExceededError, UsageError
from layerscope.readers.oci.select import parse_json
from tests.cli.run import Result, proc
from tests.conftest import FIXTURES


@pytest.fixture(autouse=True)
def _no_overrides() -> Iterator[None]:
    limits.reset_limits()
    yield
    limits.reset_limits()


def test_defaults_documented_and_overridable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, limit in limits.LIMITS.items():
        assert limit.doc and limit.default > 0, name
        assert limits.get(name) == limit.default
        monkeypatch.setenv(limit.env, "12")
        assert limits.get(name) == 12
        monkeypatch.delenv(limit.env)


def test_size_suffixes_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_BOMB_FLOOR", "8G")
    assert limits.get("bomb_floor") == 8 * 1000**3
    monkeypatch.setenv("LAYERSCOPE_BOMB_FLOOR", "8GiB")
    assert limits.get("bomb_floor") == 8 << 30
    monkeypatch.setenv("LAYERSCOPE_BOMB_FLOOR", "512 MiB")
    assert limits.get("bomb_floor") == 512 << 20
    monkeypatch.setenv("LAYERSCOPE_BOMB_FLOOR", "lots")
    with pytest.raises(UsageError, match="LAYERSCOPE_BOMB_FLOOR"):
        limits.get("bomb_floor")
    with pytest.raises(UsageError, match="unknown limit"):
        limits.get("max_everything")


def test_set_limit_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_MAX_ENTRIES", "5")
    limits.set_limit("max_entries", "7K")
    assert limits.get("max_entries") == 7000
    limits.reset_limits()
    assert limits.get("max_entries") == 5
    with pytest.raises(UsageError):
        limits.set_limit("max_entries", -1)


def test_message_names_limit_and_variable() -> None:
    err = limits.exceeded("x.sif (descriptor 4): more than 3 entries", "max_entries")
    assert isinstance(err, LimitExceededError)
    text = str(err)
    assert text.startswith("x.sif (descriptor 4): more than 3 entries (limit max_entries=")
    assert "raise with LAYERSCOPE_MAX_ENTRIES=N" in text


def test_path_cap_quick_test_is_safe() -> None:
    cap = limits.PathCap()
    deep = "/a" * (cap.max_depth + 1)
    assert len(deep) > cap.quick  # the cheap test lets it through to the real one
    with pytest.raises(LimitExceededError, match="max_path_depth"):
        cap.check(deep, "img")
    wide = "/" + "é" * (cap.max_bytes // 2)
    assert len(wide) > cap.quick
    with pytest.raises(LimitExceededError, match="max_path_bytes"):
        cap.check(wide, "img")
    cap.check("/usr/share/doc", "img")


def test_deeply_nested_json_is_corrupt_not_recursion() -> None:
    with pytest.raises(CorruptImageError, match="nests too deeply"):
        parse_json(b"[" * 100_000 + b"]" * 100_000, "index.json", "layout")


def _one_line_limit(r: Result, name: str) -> None:
    assert r.code == 3, r.err
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerscope: error: "), r.err
    assert f"limit {name}=" in lines[0] and f"LAYERSCOPE_{name.upper()}=N" in lines[0], r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize(
    "ref",
    [
        f"{FIXTURES}/sqfs/plain.sqfs",
        f"{FIXTURES}/sif/with-overlay.sif",
        f"{FIXTURES}/oci/layers/app-1.0-layer3-whiteouts.tar.gz",
        f"oci:{FIXTURES}/oci/app-layout:1.0",
        f"{FIXTURES}/sif/defs",  # a directory: the sandbox reader
    ],
)
def test_entry_limit_from_the_cli(ref: str) -> None:
    r = proc("ls", "--no-cache", ref, env={"LAYERSCOPE_MAX_ENTRIES": "3"})
    _one_line_limit(r, "max_entries")


@pytest.mark.parametrize(
    ("env", "ref", "name"),
    [
        ({"LAYERSCOPE_MAX_PATH_DEPTH": "2"}, f"{FIXTURES}/sqfs/plain.sqfs", "max_path_depth"),
        ({"LAYERSCOPE_MAX_PATH_BYTES": "20"}, f"{FIXTURES}/sif/alpine-like-base.sif", None),
        ({"LAYERSCOPE_MAX_METADATA_BYTES": "1K"}, f"{FIXTURES}/sqfs/plain.sqfs", None),
        ({"LAYERSCOPE_MAX_JSON_BYTES": "100"}, f"oci:{FIXTURES}/oci/app-layout:1.0", None),
        ({"LAYERSCOPE_MAX_LAYERS": "2"}, f"oci:{FIXTURES}/oci/app-layout:1.0", None),
        ({"LAYERSCOPE_MAX_SIF_DESCRIPTORS": "4"}, f"{FIXTURES}/sif/final.sif", None),
        ({"LAYERSCOPE_MAX_XATTR_BYTES": "50"}, f"{FIXTURES}/sqfs/plain.sqfs", None),
        ({"LAYERSCOPE_MAX_XATTR_BYTES": "10"}, f"{FIXTURES}/sif/with-overlay.sif", None),
    ],
)
def test_each_limit_stops_with_its_name(env: dict[str, str], ref: str, name: str | None) -> None:
    r = proc("ls", "--no-cache", ref, env=env)
    key = next(iter(env))
    _one_line_limit(r, name or key.removeprefix("LAYERSCOPE_").lower())


def test_tar_extension_header_limit(tmp_path: Path) -> None:
    from tests.fuzz.tarmut import tar_seeds

    pax = tmp_path / "pax.tar"
    pax.write_bytes(tar_seeds()[0].data)  # PAX records, GNU long names
    assert proc("ls", "--no-cache", str(pax)).code == 0
    r = proc("ls", "--no-cache", str(pax), env={"LAYERSCOPE_MAX_TAR_HEADER_BYTES": "10"})
    _one_line_limit(r, "max_tar_header_bytes")
    r = proc("ls", "--no-cache", str(pax), env={"LAYERSCOPE_MAX_XATTR_BYTES": "10"})
    _one_line_limit(r, "max_xattr_bytes")


def test_bomb_limit_names_both_knobs(tmp_path: Path) -> None:
    import gzip
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("zeros")
        info.size = 8 << 20
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    blob = tmp_path / "layer.tar.gz"
    blob.write_bytes(gzip.compress(buf.getvalue()))
    env = {"LAYERSCOPE_BOMB_FLOOR": "1MiB", "LAYERSCOPE_BOMB_RATIO": "10"}
    r = proc("ls", "--no-cache", str(blob), env=env)
    assert r.code == 3 and "bomb_floor=1048576" in r.err and "bomb_ratio=10" in r.err, r.err
    for name in ("bomb_floor", "bomb_ratio"):
        assert f"LAYERSCOPE_{name.upper()}=N or --limit {name}=N" in r.err, r.err


def test_sandbox_symlink_loops_are_listed_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("box\n")
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    os.symlink(".", root / "etc" / "self")
    os.symlink("..", root / "etc" / "up")
    os.symlink("/", root / "escape")
    r = proc("ls", "--no-cache", "--json", str(root))
    assert r.code == 0, r.err
    entries = {e["path"]: e for e in r.json()["entries"]}
    assert set(entries) == {
        "/",
        "/a",
        "/b",
        "/escape",
        "/etc",
        "/etc/hostname",
        "/etc/self",
        "/etc/up",
    }
    assert entries["/a"]["type"] == "symlink" and entries["/a"]["target"] == "b"
    r = proc("cat", "--no-cache", str(root), "/a")
    assert r.code == 2 and "symlink" in r.err and r.out == b""


def test_index_nesting_limit(tmp_path: Path) -> None:
    """An index whose only entry is itself: a cycle through digests, stopped by depth."""
    from tests.fuzz.jsonmut import digest_of

    layout = tmp_path / "layout"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    # Each index points at the next; the innermost points at the outermost's digest would
    # need a fixed point, so build a chain deeper than the limit instead.
    child = "sha256:" + "0" * 64
    for _ in range(limits.get("max_index_depth") + 2):
        doc = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [{"digest": child, "size": 1, "mediaType": "x"}],
            }
        ).encode()
        child = digest_of(doc)
        (blobs / child[7:]).write_bytes(doc)
    (layout / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "manifests": [{"digest": child, "size": 1}]})
    )
    r = proc("ls", "--no-cache", f"oci:{layout}")
    _one_line_limit(r, "max_index_depth")


def test_limit_option_on_the_command_line(tmp_path: Path) -> None:
    image = f"{FIXTURES}/sif/alpine-like-base.sif"
    r = proc("ls", "--no-cache", "--limit", "max_entries=5", image)
    assert r.code == 3 and "--limit max_entries=N" in r.err and r.err.count("\n") == 1
    r = proc("ls", "--no-cache", "--limit", "max_entries=100", image)
    assert r.code == 0, r.err
    r = proc("ls", "--limit", "no_such_limit=1", image)
    assert r.code == 2


def test_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "image.sif"
    os.mkfifo(fifo)
    r = proc("ls", str(fifo), timeout=10)
    assert r.code == 3 and "not a regular file" in r.err


@pytest.mark.parametrize(
    ("text", "value"),
    [("1GB", 10**9), ("1G", 10**9), ("1GiB", 1 << 30), ("1.5 gb", 1_500_000_000), ("1,000", 1000)],
)
def test_one_size_syntax_everywhere(monkeypatch: pytest.MonkeyPatch, text: str, value: int) -> None:
    """A limit, the cache cap and a check rule read a size the same way (dive's)."""
    from layerscope.cache import max_bytes_from_env
    from layerscope.check import build_config

    monkeypatch.setenv("LAYERSCOPE_BOMB_FLOOR", text)
    monkeypatch.setenv("LAYERSCOPE_CACHE_MAX", text)
    rule = build_config(None, None, {"max-image-size": text}).rule("max-image-size")
    assert limits.get("bomb_floor") == max_bytes_from_env() == rule.threshold == value
