"""Many members of a streamed layer read in one pass (read_layer_contents), against tarfile,
and a contents diff of two tar layers reading each layer once."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from layerscope.engine.compare import compare_images
from layerscope.engine.loading import load_image
from layerscope.errors import CorruptImageError, UnsupportedFormatError
from layerscope.model.entry import EntryKind
from layerscope.readers import OpenOptions
from layerscope.readers.tar import inflate
from layerscope.readers.tar import reader as layer_tar
from layerscope.readers.tar.reader import iter_layer_entries, read_layer_contents

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "plain": lambda b: b,
    "gzip": gzip.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


def _tar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


MEMBERS = {
    "a": b"hello",
    "empty": b"",
    "big": bytes(range(256)) * 9000,  # more than one 1 MiB chunk
    "d/x": b"x" * 513,
    "z": b"zz",
}


@pytest.mark.parametrize("codec", sorted(COMPRESS))
def test_members_in_one_pass_equal_tarfile(codec: str) -> None:
    blob = COMPRESS[codec](_tar(MEMBERS))
    entries = {e.path: e for e in iter_layer_entries(io.BytesIO(blob), codec)}
    # asked in any order, duplicates included: answered once each, in member order
    wanted = [(entries[f"/{n}"].loc, entries[f"/{n}"].size) for n in ("z", "big", "a", "z")]
    wanted += [(entries["/empty"].loc, 0), (entries["/d/x"].loc, 513)]
    got = [(loc, b"".join(chunks)) for loc, chunks in read_layer_contents(
        io.BytesIO(blob), codec, wanted)]  # fmt: skip
    by_loc = {e.loc: MEMBERS[e.path[1:]] for e in entries.values() if e.kind is EntryKind.FILE}
    assert [loc for loc, _ in got] == sorted({loc for loc, _ in wanted})
    assert all(data == by_loc[loc] for loc, data in got)


def test_unconsumed_members_are_skipped() -> None:
    blob = gzip.compress(_tar(MEMBERS))
    entries = {e.path: e for e in iter_layer_entries(io.BytesIO(blob), "g")}
    wanted = [(entries[p].loc, entries[p].size) for p in ("/a", "/big", "/z")]
    seen = {}
    for loc, chunks in read_layer_contents(io.BytesIO(blob), "g", wanted):
        if loc == entries["/big"].loc:
            next(chunks)  # one chunk of a big member, then on to the next member
            continue
        seen[loc] = b"".join(chunks)
    assert seen == {entries["/a"].loc: b"hello", entries["/z"].loc: b"zz"}


def test_bad_requests_are_typed_errors() -> None:
    blob = gzip.compress(_tar(MEMBERS))
    with pytest.raises(UnsupportedFormatError):
        list(read_layer_contents(io.BytesIO(blob), "g", [(-1, 3)]))
    cut = blob[: len(blob) // 2]
    last = max(e.loc for e in iter_layer_entries(io.BytesIO(blob), "g"))
    with pytest.raises(CorruptImageError):
        for _, chunks in read_layer_contents(io.BytesIO(cut), "g", [(last, 2)]):
            b"".join(chunks)


def test_contents_diff_reads_each_layer_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same-size files whose contents differ in half the cases: found by digests computed
    in one pass per layer, never by a member-by-member read (quadratic in layer size)."""
    a_members = {f"d{i // 50}/f{i}": bytes([i % 251]) * 600 for i in range(300)}
    b_members = {k: (v if i % 2 else bytes([(v[0] + 1) % 256]) + v[1:]) for i, (k, v) in
                 enumerate(a_members.items())}  # fmt: skip
    a = tmp_path / "a.tar.gz"
    b = tmp_path / "b.tar.gz"
    a.write_bytes(gzip.compress(_tar(a_members)))
    b.write_bytes(gzip.compress(_tar(b_members)))
    passes: list[str] = []
    real = inflate.open_decoded

    def counting(raw: Any, name: str, *args: Any) -> Any:
        passes.append(name)
        return real(raw, name, *args)

    monkeypatch.setattr(layer_tar, "open_decoded", counting)
    opts = OpenOptions(use_cache=False)
    ia, ib = load_image(str(a), opts), load_image(str(b), opts)
    try:
        passes.clear()
        d = compare_images(ia, ib)
    finally:
        ia.close()
        ib.close()
    changed = {m.path for m in d.tree.modified if m.changes == ["content"]}
    assert changed == {f"/{k}" for i, k in enumerate(a_members) if not i % 2}
    assert len(passes) == 2  # one pass over each layer, not one per file
