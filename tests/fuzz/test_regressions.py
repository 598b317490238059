"""Every input the fuzzers ever broke layerscope with, replayed: each must now end in a
result or a LayerscopeError, in time and memory (tests/fuzz/check.py).

The inputs live in fixtures/fuzz/<parser>/, each with a .txt note saying what it broke
and how it was fixed. tests/test_corrupt_cli.py runs the same files through the real CLI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.fuzz.check import HANG_GUARD, run_case
from tests.fuzz.targets import TARGETS, load_case

FUZZ_FIXTURES = FIXTURES / "fuzz"


def findings() -> list[tuple[str, Path]]:
    out = []
    for parser in sorted(TARGETS):
        folder = FUZZ_FIXTURES / parser
        if folder.is_dir():
            out += [(parser, p) for p in sorted(folder.iterdir()) if p.suffix != ".txt"]
    return out


@pytest.mark.parametrize(("parser", "path"), findings(), ids=lambda v: getattr(v, "name", v))
def test_finding_stays_fixed(parser: str, path: Path, tmp_path: Path) -> None:
    outcome = run_case(TARGETS[parser], load_case(parser, path), tmp_path, time_limit=HANG_GUARD)
    assert not outcome.bad, f"{path.name}: {outcome.kind}: {outcome.detail}"


def test_every_finding_is_documented() -> None:
    for _parser, path in findings():
        note = path.parent / (path.name.split("-", 1)[0] + ".txt")
        assert note.is_file() and note.read_text().strip(), f"{path} has no note"


def test_there_are_findings() -> None:
    """The fuzzers found real bugs; losing their inputs would lose the regression tests."""
    assert len(findings()) >= 1
