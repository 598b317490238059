"""Images of tar layers are read in passes, never member by member (each member read alone
decompresses its layer up to it): analyses, inspect and diffs of OCI images."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from layerscope.engine import content_pass
from layerscope.engine.analysis import AnalysisOptions, analyze
from layerscope.engine.loading import load_image
from layerscope.present.analysis import report_json
from layerscope.readers import OpenOptions
from layerscope.readers.oci.reader import OciImageReader
from layerscope.readers.tar import inflate
from layerscope.readers.tar import reader as layer_tar
from tests.cli.run import cli
from tests.conftest import FIXTURES

APP = f"oci:{FIXTURES}/oci/app-layout:1.0"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts decoded passes over layer blobs, and single-member reads."""
    seen: Counter[str] = Counter()
    real_open = inflate.open_decoded
    real_one = OciImageReader.read_content

    def counting_open(raw: Any, name: str, *args: Any) -> Any:
        seen["passes"] += 1
        return real_open(raw, name, *args)

    def counting_one(self: OciImageReader, layer: int, loc: int, size: int) -> Iterator[bytes]:
        seen["single"] += 1
        return real_one(self, layer, loc, size)

    monkeypatch.setattr(layer_tar, "open_decoded", counting_open)
    monkeypatch.setattr(OciImageReader, "read_content", counting_one)
    return seen


def _app_report() -> dict[str, Any]:
    img = load_image(APP, OpenOptions(use_cache=False))
    try:
        return report_json(analyze(img, AnalysisOptions()))
    finally:
        img.close()


def test_analysis_reads_each_layer_in_one_pass(
    reads: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    img = load_image(APP, OpenOptions(use_cache=False))
    try:
        layers = len(img.meta.layers)
        reads.clear()
        report = report_json(analyze(img, AnalysisOptions()))
    finally:
        img.close()
    # the dive numbers list every layer again (no index cache here), the contents take
    # one more pass over the layers holding something to read; no member is read alone
    assert reads["single"] == 0
    assert layers < reads["passes"] <= 2 * layers
    assert any(f["how"] == "content" for f in report["secrets"]["findings"])
    # the same report as reading member by member (the one-pass read turned off)
    monkeypatch.setattr(content_pass, "StreamedContents", type("Nothing", (), {}))
    reads.clear()
    assert _app_report() == report
    assert reads["single"] > 0


def test_inspect_counts_layers_from_their_cached_index(
    capsysbinary: pytest.CaptureFixture[bytes], reads: Counter[str]
) -> None:
    first = cli(capsysbinary, "inspect", "--json", APP)
    assert first.code == 0, first.err
    passes = reads["passes"]
    assert passes >= 5
    again = cli(capsysbinary, "inspect", "--json", APP)
    assert again.code == 0 and reads["passes"] == passes  # no layer decompressed again
    assert json.loads(again.out)["layers"] == json.loads(first.out)["layers"]


def test_read_contents_is_what_read_content_gives() -> None:
    img = load_image(APP, OpenOptions(use_cache=False))
    try:
        tree, reader = img.tree, img.reader
        assert isinstance(reader, OciImageReader)
        files = [n for n in tree.walk() if tree.kind[n] == 0 and tree.size[n]]
        by_layer: dict[int, list[tuple[int, int]]] = {}
        for n in files:
            by_layer.setdefault(tree.source_layer(n), []).append((tree.loc[n], tree.size[n]))
        for layer, wanted in by_layer.items():
            got = {loc: b"".join(c) for loc, c in reader.read_contents(layer, wanted)}
            want: Sequence[tuple[int, int]] = sorted(set(wanted))
            assert list(got) == [loc for loc, _ in want]
            for loc, size in want:
                assert got[loc] == b"".join(reader.read_content(layer, loc, size))
    finally:
        img.close()


def test_cancelling_stops_the_read_ahead(
    reads: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel during the one-pass read-ahead ends the analysis there: it does not go on
    to read the members one by one."""
    import threading

    from layerscope.engine import analysis_scan
    from layerscope.errors import Cancelled

    cancel = threading.Event()
    real = content_pass.content_pass

    def cancel_then_read(*args: Any) -> Any:
        cancel.set()
        return real(*args)

    monkeypatch.setattr(analysis_scan, "content_pass", cancel_then_read)
    img = load_image(APP, OpenOptions(use_cache=False))
    try:
        reads.clear()
        with pytest.raises(Cancelled):
            analyze(img, AnalysisOptions(), cancel=cancel)
    finally:
        img.close()
    assert reads["single"] == 0


def test_inspect_analyze_without_cache_lists_each_layer_once(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`inspect --analyze --no-cache` lists each layer once: dive's numbers reuse the
    listing through a scratch index (gone afterwards), as `check` reuses the cache's."""
    listed: Counter[int] = Counter()
    real = OciImageReader.iter_entries

    def counting(self: OciImageReader, layer: int) -> Iterator[Any]:
        listed[layer] += 1
        return real(self, layer)

    monkeypatch.setattr(OciImageReader, "iter_entries", counting)
    got = cli(capsysbinary, "inspect", "--no-cache", "--analyze", "--json", APP)
    assert got.code == 0, got.err
    assert listed and set(listed.values()) == {1}
    listed.clear()
    cached = cli(capsysbinary, "inspect", "--analyze", "--json", APP)
    assert cached.code == 0 and set(listed.values()) == {1}
    assert json.loads(got.out) == json.loads(cached.out)
