"""The batched prefilter (BatchScan, any_hits): every file gets exactly what scan_file()
gives it alone, whatever its neighbours in the batch and wherever a batch is cut."""

from __future__ import annotations

import random

import pytest

from layerscope.model.bloat import secret_anchors
from layerscope.model.bloat.secret_anchors import ANCHORS, any_hits, byte_windows
from layerscope.model.bloat.secret_rules import Match
from layerscope.model.bloat.secrets import BatchScan, scan_file
from tests.model.bloat.test_secrets import RULE_EXAMPLES


@pytest.fixture(params=["as installed", "automaton only"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both prefilter engines: Hyperscan where the wheel is installed, and the
    Aho-Corasick automaton every platform has."""
    if request.param == "automaton only":
        for anchors in secret_anchors._BY_MODE.values():
            monkeypatch.setattr(anchors, "fast", None)
    return str(request.param)


PATHS = ("/etc/app.conf", "/root/.netrc", "/usr/share/doc/x.txt", "/opt/app/.env", "/bin/x")


def _files(seed: int) -> list[tuple[str, bytes]]:
    """Text files made of the rules' examples, anchors cut across file ends, URLs, binary
    heads and plain words."""
    rnd = random.Random(seed)
    pieces = [p for _, pos, neg in RULE_EXAMPLES for p in (pos, neg)]
    anchors = [a for group in ANCHORS.values() for a in group]
    out = []
    for i in range(300):
        parts = []
        for _ in range(rnd.randrange(0, 4)):
            roll = rnd.random()
            if roll < 0.3:
                parts.append(rnd.choice(pieces))
            elif roll < 0.5:
                a = rnd.choice(anchors)
                cut = rnd.randrange(1, len(a) + 1)
                parts.append(a[:cut] if rnd.random() < 0.5 else a[cut:])  # halves at the ends
            else:
                parts.append(rnd.choice(("plain words", "http://host/x", "x\n", "", "a:b@")))
        data = "".join(parts).encode()
        if rnd.random() < 0.05:
            data = b"\0" + data  # binary: no matches, as scan_file
        out.append((PATHS[i % len(PATHS)], data))
    return out


@pytest.mark.parametrize("hold", [1, 64, 1 << 20])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_give_what_each_file_gives_alone(seed: int, hold: int, engine: str) -> None:
    files = _files(seed)
    got: dict[int, list[Match]] = {}
    batch = BatchScan(lambda key, data, matches: got.__setitem__(key, matches), hold)
    for i, (path, data) in enumerate(files):
        batch.add(i, path, data)
    batch.flush()
    assert got == {i: scan_file(path, data) for i, (path, data) in enumerate(files)}
    assert any(got.values())  # the examples' secrets are found through the batches


def test_any_hits_is_byte_windows_per_file(engine: str) -> None:
    datas = [data for _, data in _files(4)] + [b"PRIVATE KE", b"Y", b"x://a:b", b"@"]
    assert any_hits(datas) == [bool(byte_windows(d)) for d in datas]
    assert any_hits([]) == []
