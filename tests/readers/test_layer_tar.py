"""layer_tar: one layer blob -> entries, checked against GNU tar's own listing."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import pytest
import zstandard

from layerscope.errors import CorruptImageError, LimitExceededError
from layerscope.model.entry import Entry, EntryKind
from layerscope.readers.tar.reader import iter_layer_entries, read_layer_content
from tests.conftest import EXPECTED, FIXTURES, require, require_tool

LAYOUT = FIXTURES / "oci" / "app-layout"
LAYERS = FIXTURES / "oci" / "layers"
QUIRK = LAYERS / "quirks" / "umoci-0.4.7-insert-opaque-truncated.tar.gz"

_TV = re.compile(
    r"^(?P<mode>[-a-zA-Z]{10})\S* (?P<uid>\d+)/(?P<gid>\d+) +(?P<size>\d+|\d+, *\d+) "
    r"(?P<date>\d{4}-\d\d-\d\d \d\d:\d\d) (?P<rest>.*)$"
)
_KIND = {
    "-": EntryKind.FILE,
    "h": EntryKind.FILE,
    "d": EntryKind.DIR,
    "l": EntryKind.SYMLINK,
    "c": EntryKind.CHAR,
    "b": EntryKind.BLOCK,
    "p": EntryKind.FIFO,
}


class TvLine(NamedTuple):
    """One line of `tar --numeric-owner -tv` output, normalised like layerscope paths."""

    path: str
    kind: EntryKind
    perms: str
    uid: int
    gid: int
    size: int | None  # None for devices (tar prints major,minor)
    minute: str
    target: str | None
    hardlink: str | None


def parse_tv(text: str) -> list[TvLine]:
    out = []
    for line in text.splitlines():
        m = _TV.match(line)
        assert m, f"unparsed tar -tv line: {line!r}"
        mode, rest = m["mode"], m["rest"]
        target = hardlink = None
        if mode[0] == "l":
            rest, _, target = rest.partition(" -> ")
        elif mode[0] == "h":
            rest, _, link = rest.partition(" link to ")
            hardlink = "/" + link.strip("/").removeprefix("./")
        path = "/" + "/".join(p for p in rest.split("/") if p and p != ".")
        size = int(m["size"]) if "," not in m["size"] else None
        out.append(
            TvLine(
                path,
                _KIND[mode[0]],
                mode[1:],
                int(m["uid"]),
                int(m["gid"]),
                size,
                m["date"],
                target,
                hardlink,
            )
        )
    return out


def tv_of(entry: Entry) -> TvLine:
    """The TvLine tar would print for an entry (sizes: tar shows 0 for links and dirs)."""
    size: int | None = entry.size if entry.kind is EntryKind.FILE else 0
    if entry.hardlink is not None:
        size = 0
    if entry.kind in (EntryKind.CHAR, EntryKind.BLOCK):
        size = None
    minute = datetime.fromtimestamp(entry.mtime, timezone.utc).strftime("%Y-%m-%d %H:%M")
    return TvLine(
        entry.path,
        entry.kind,
        entry.ls_mode()[1:],
        entry.uid,
        entry.gid,
        size,
        minute,
        entry.target,
        entry.hardlink,
    )


def entries_of(path: Path, **kw: Any) -> list[Entry]:
    with open(path, "rb") as f:
        return list(iter_layer_entries(f, str(path), path.stat().st_size, **kw))


def tar_tv(path: Path, *flags: str) -> list[TvLine]:
    tar = require_tool("tar")
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    out = subprocess.run(
        [tar, "--numeric-owner", *flags, "-tvf", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_tv(out)


def manifest_layers(tag: str) -> list[Path]:
    if tag == "base":  # no expected files of its own: its one layer is 1.0's first
        return manifest_layers("1.0")[:1]
    doc = json.loads((EXPECTED / "oci" / f"app-{tag}.manifest.json").read_text())
    return [LAYOUT / "blobs" / "sha256" / d["digest"].split(":")[1] for d in doc["layers"]]


@pytest.mark.parametrize("tag", ["base", "1.0", "1.1"])
def test_app_layers_match_gnu_tar_listing(tag: str) -> None:
    expected_tag = "1.0" if tag == "base" else tag
    for n, blob in enumerate(manifest_layers(tag), 1):
        listing = (EXPECTED / "oci" / f"app-{expected_tag}.layer{n}.tv.txt").read_text()
        want = parse_tv(listing)
        got = [tv_of(e) for e in entries_of(blob)]
        assert got == want, f"{tag} layer {n}"


def test_hardlink_entry_is_a_file_with_its_target() -> None:
    run = [e for e in entries_of(manifest_layers("1.0")[4]) if e.path == "/app/bin/run.sh"]
    assert len(run) == 1
    assert run[0].kind is EntryKind.FILE
    assert run[0].hardlink == "/app/bin/run"
    assert run[0].size == 0


def test_symlink_size_is_target_length() -> None:
    links = [e for e in entries_of(manifest_layers("1.0")[0]) if e.kind is EntryKind.SYMLINK]
    assert links
    for e in links:
        assert e.target is not None
        assert e.size == len(e.target.encode())


@pytest.mark.parametrize("name", ["app-1.0-layer3-whiteouts", "app-1.0-layer4-opaque"])
def test_single_blobs_gzip_and_zstd_list_whiteouts_as_stored(name: str) -> None:
    gz = LAYERS / f"{name}.tar.gz"
    zst = LAYERS / f"{name}.tar.zst"
    from_gz = entries_of(gz)
    assert [tv_of(e) for e in from_gz] == tar_tv(gz, "-z")
    assert from_gz == entries_of(zst)
    wh = [e.path for e in from_gz if e.name.startswith(".wh.")]
    assert wh, "the fixture layers carry whiteouts"
    if "opaque" in name:
        assert "/opt/legacy/.wh..wh..opq" in wh


def test_truncated_umoci_layer_is_one_corrupt_error_after_the_readable_members() -> None:
    seen: list[str] = []
    with open(QUIRK, "rb") as f, pytest.raises(CorruptImageError) as info:
        for e in iter_layer_entries(f, str(QUIRK)):
            seen.append(e.path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(QUIRK) in msg
    assert "at byte 3372" in msg  # where the decompressed stream ends
    # GNU tar also lists every member before "Unexpected EOF in archive"
    tar = require_tool("tar")
    res = subprocess.run([tar, "-tzf", str(QUIRK)], capture_output=True, text=True)
    assert res.returncode != 0
    assert seen == ["/" + p.rstrip("/") for p in res.stdout.split()]


def _targz(members: list[tuple[tarfile.TarInfo, bytes | None]], fmt: int) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, **kw: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mtime = size, kind, 1_700_000_000
    for k, v in kw.items():
        setattr(info, k, v)
    return info


@pytest.fixture(scope="module")
def gnu_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree with long names, long link targets, hard links, a fifo and an xattr."""
    root = tmp_path_factory.mktemp("tree")
    deep = root / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    long_file = deep / ("f" * 90 + ".txt")
    long_file.write_bytes(b"long name content\n" * 50)
    (root / "small.txt").write_text("hello\n")
    os.link(long_file, root / "hard-to-long")
    os.link(root / "small.txt", deep / ("h" * 95))
    os.symlink(str(long_file.relative_to(root)), root / "sym-to-long")
    os.mkfifo(root / "fifo")
    os.chmod(root / "small.txt", 0o4755)
    with contextlib.suppress(OSError):  # checked by the test that needs it
        os.setxattr(root / "small.txt", "user.layerscope", b"v\x00\xff1")
    return root


@pytest.mark.parametrize("fmt", ["pax", "gnu"])
def test_gnu_tar_long_names_links_and_fifos(gnu_tree: Path, tmp_path: Path, fmt: str) -> None:
    tar = require_tool("tar")
    out = tmp_path / f"t-{fmt}.tar.gz"
    subprocess.run(
        [tar, f"--format={fmt}", "--xattrs", "-czf", str(out), "-C", str(gnu_tree), "."], check=True
    )
    got = entries_of(out)
    assert [tv_of(e) for e in got] == tar_tv(out, "-z")
    assert any(len(e.path) > 150 for e in got), "long names were exercised"
    assert any(e.hardlink and len(e.hardlink) > 100 for e in got), "long hard-link targets too"
    assert any(e.kind is EntryKind.FIFO for e in got)


def test_pax_xattrs_schily_and_libarchive(gnu_tree: Path, tmp_path: Path) -> None:
    tar = require_tool("tar")
    try:
        want = os.getxattr(gnu_tree / "small.txt", "user.layerscope")
    except OSError:
        want = b""
    require(bool(want), "user xattrs on the test file system")
    out = tmp_path / "x.tar"
    subprocess.run(
        [tar, "--format=pax", "--xattrs", "-cf", str(out), "-C", str(gnu_tree), "small.txt"],
        check=True,
    )
    (small,) = entries_of(out)
    assert small.xattrs == {"user.layerscope": want}
    # libarchive (bsdtar) writes xattrs as LIBARCHIVE.xattr.<urlencoded name>=<base64>
    info = _info("la.txt", 3, pax_headers={"LIBARCHIVE.xattr.user.a%3Db": "dgD/MQ"})
    raw = _targz([(info, b"abc")], tarfile.PAX_FORMAT)
    (e,) = list(iter_layer_entries(io.BytesIO(raw), "mem"))
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        ref = t.getmembers()[0].pax_headers
    assert "LIBARCHIVE.xattr.user.a%3Db" in ref
    assert e.xattrs == {"user.a=b": b"v\x00\xff1"}


def test_base256_uid_and_pax_overrides() -> None:
    big = 0o7777777 + 12345  # does not fit 7 octal digits: tarfile writes base-256
    raw = _targz([(_info("big", 4, uid=big, gid=42), b"data")], tarfile.GNU_FORMAT)
    assert raw[108] & 0x80, "the uid field really is base-256"
    (e,) = list(iter_layer_entries(io.BytesIO(raw), "mem"))
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        ref = t.getmembers()[0]
    assert (e.uid, e.gid) == (ref.uid, ref.gid) == (big, 42)
    pax = _info("p", 2, pax_headers={"mtime": "1700000123.75", "uid": "70000", "path": "./x//y"})
    (e,) = list(iter_layer_entries(io.BytesIO(_targz([(pax, b"ab")], tarfile.PAX_FORMAT)), "m"))
    assert (e.path, e.mtime, e.uid) == ("/x/y", 1_700_000_123, 70000)


def test_pax_global_header_is_tolerated() -> None:
    raw = io.BytesIO()
    with tarfile.open(
        fileobj=raw,
        mode="w",
        format=tarfile.PAX_FORMAT,
        pax_headers={"comment": "git archive", "uid": "7"},
    ) as t:
        t.addfile(_info("a", 1), io.BytesIO(b"x"))
    entries = list(iter_layer_entries(io.BytesIO(raw.getvalue()), "mem"))
    assert [(e.path, e.uid) for e in entries] == [("/a", 7)]


class _Pipe(io.RawIOBase):
    """A non-seekable stream, like a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        return self._f.readinto(b)


def _content_cases(tmp_path: Path) -> Iterator[tuple[str, BinaryIO, bytes]]:
    payload = bytes(range(256)) * 9000  # > one 1 MiB window
    plain = _targz(
        [
            (_info("dir/", 0, tarfile.DIRTYPE), None),
            (_info("a", 5), b"hello"),
            (_info("big", len(payload)), payload),
            (_info("z", 2), b"zz"),
        ],
        tarfile.GNU_FORMAT,
    )
    yield "plain", io.BytesIO(plain), plain
    yield "gzip", io.BytesIO(gzip.compress(plain)), plain
    yield "zstd", io.BytesIO(zstandard.ZstdCompressor().compress(plain)), plain
    yield "pipe", _Pipe(gzip.compress(plain)), plain  # type: ignore[misc]


def test_read_content_matches_tarfile(tmp_path: Path) -> None:
    for label, stream, plain in _content_cases(tmp_path):
        entries = list(iter_layer_entries(stream, label))
        blob = plain if label == "plain" else gzip.compress(plain)
        with tarfile.open(fileobj=io.BytesIO(plain)) as ref:
            names = ["/" + m.name.rstrip("/") for m in ref.getmembers()]
            assert [e.path for e in entries] == names
            for e in entries:
                if e.kind is EntryKind.FILE:
                    f = ref.extractfile(e.path[1:])
                    assert f is not None
                    got = b"".join(read_layer_content(io.BytesIO(blob), label, e.loc, e.size))
                    assert got == f.read(), (label, e.path)


def test_decompression_bomb_stops_with_limit_error() -> None:
    zeros = _targz([(_info("zeros", 8 << 20), bytes(8 << 20))], tarfile.GNU_FORMAT)
    blob = gzip.compress(zeros, 9)
    with pytest.raises(LimitExceededError, match="uncompressed"):
        list(iter_layer_entries(io.BytesIO(blob), "bomb", len(blob), limit=1 << 20))
    assert len(list(iter_layer_entries(io.BytesIO(blob), "ok", len(blob)))) == 1


@pytest.mark.parametrize("damage", ["gzip", "checksum", "data"])
def test_damage_is_one_corrupt_error_naming_the_layer(damage: str) -> None:
    plain = _targz(
        [(_info("a", 3000), os.urandom(3000)), (_info("b", 10), b"0123456789")], tarfile.GNU_FORMAT
    )
    if damage == "checksum":
        blob = bytearray(plain)
        blob[3584 + 10] ^= 0x01  # a byte of the second header's name
        data = bytes(blob)
    elif damage == "data":
        data = gzip.compress(plain[:2000])  # cut inside the first member's data
    else:
        z = bytearray(gzip.compress(plain))
        z[len(z) // 2] ^= 0xFF
        data = bytes(z)
    with pytest.raises(CorruptImageError) as info:
        list(iter_layer_entries(io.BytesIO(data), "layer-x"))
    msg = str(info.value)
    assert msg.startswith("layer-x") and "\n" not in msg
    assert "at byte" in msg


def test_signed_checksum_and_undecodable_names() -> None:
    """Old tars summed signed chars; names that are not UTF-8 survive via surrogateescape."""
    header = bytearray(_info("caf\xe9/x").tobuf(tarfile.GNU_FORMAT, encoding="latin-1"))
    header[148:156] = b" " * 8
    signed = sum(b - 256 if b > 127 else b for b in header)
    header[148:156] = b"%06o\0 " % signed
    data = bytes(header) + bytes(1024)
    (e,) = list(iter_layer_entries(io.BytesIO(data), "mem"))
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        ref = t.getmembers()[0].name  # tarfile also decodes with surrogateescape
    assert e.path == "/" + ref == "/caf\udce9/x"


def test_devices_and_fifos(tmp_path: Path) -> None:
    members: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_info("dev/null", kind=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666), None),
        (_info("dev/sda1", kind=tarfile.BLKTYPE, devmajor=8, devminor=1, mode=0o660), None),
        (_info("etc/.wh-ovl", kind=tarfile.CHRTYPE, devmajor=0, devminor=0, mode=0), None),
        (_info("run/fifo", kind=tarfile.FIFOTYPE, mode=0o600), None),
    ]
    raw = _targz(members, tarfile.GNU_FORMAT)
    path = tmp_path / "dev.tar"
    path.write_bytes(raw)
    got = entries_of(path)
    assert [tv_of(e) for e in got] == tar_tv(path)
    with tarfile.open(path) as t:
        ref = [(m.devmajor, m.devminor) if m.ischr() or m.isblk() else None for m in t]
    assert [e.rdev for e in got] == ref


@pytest.mark.parametrize("fmt", ["gnu", "pax"])
def test_gnu_sparse_files_list_with_their_real_size(tmp_path: Path, fmt: str) -> None:
    tar = require_tool("tar")
    tree = tmp_path / "tree"
    tree.mkdir()
    with open(tree / "sparse.bin", "wb") as f:
        f.truncate(5 << 20)
        f.seek(3_000_000)
        f.write(b"hello")
    (tree / "after").write_text("after the sparse file\n")
    out = tmp_path / "s.tar"
    subprocess.run(
        [tar, f"--format={fmt}", "-S", "-cf", str(out), "-C", str(tree), "."], check=True
    )
    got = entries_of(out)
    assert [tv_of(e) for e in got] == tar_tv(out)
    (after,) = [e for e in got if e.path == "/after"]
    with open(out, "rb") as f:
        assert b"".join(read_layer_content(f, "s", after.loc, after.size)) == (
            b"after the sparse file\n"
        )


def test_headers_and_pax_records_across_window_boundaries(tmp_path: Path) -> None:
    from layerscope.readers.tar.reader import WINDOW

    # a member that ends 512 bytes before the first window ends, so the next PAX header is
    # its last block and the PAX payload (a long path) runs into the second window
    first = WINDOW - 512 - 512
    long_path = "deep/" * 300 + "file"
    members: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_info("first", first), bytes(first)),
        (_info(long_path, 7), b"content"),
    ]
    members += [(_info(f"many/f{i:05d}", 300 + i % 700), bytes(300 + i % 700)) for i in range(4000)]
    raw = _targz(members, tarfile.PAX_FORMAT)
    assert len(raw) > 3 * WINDOW
    path = tmp_path / "w.tar.gz"
    path.write_bytes(gzip.compress(raw, 1))
    got = entries_of(path)
    assert [tv_of(e) for e in got] == tar_tv(path, "-z")
    assert got[1].path == "/" + long_path
    assert b"".join(read_layer_content(io.BytesIO(path.read_bytes()), "w", got[1].loc, 7)) == (
        b"content"
    )
