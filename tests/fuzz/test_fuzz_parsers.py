"""Property: whatever is done to a real image's bytes, layerscope only raises its own errors.

Each parser gets a modest number of mutated fixtures per run (hypothesis keeps failing
examples in its database, so a finding is retried first next time); `fuzz/run.py` runs the
same cases by the hundred thousand. Every case must end in a result or a LayerscopeError
within 200 MiB, and finish (tests/fuzz/check.py; fuzz/run.py also reports cases slower
than 2 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.check import HANG_GUARD, run_case
from tests.fuzz.targets import TARGETS

# ~3-6 s per parser on the 2-core box: the whole directory stays well under a minute.
EXAMPLES = {
    "sif": 800,
    "squashfs": 1000,
    "ext3": 600,
    "tar": 1500,
    "oci-json": 400,
    "registry-manifest": 400,
    "text": 25,  # each case runs eight commands on two images
    "elf": 200,
}


@pytest.mark.parametrize("parser", sorted(TARGETS))
def test_only_layerscope_errors(parser: str, tmp_path: Path) -> None:
    target = TARGETS[parser]

    @settings(
        max_examples=EXAMPLES[parser],
        deadline=None,  # run_case guards against hangs; speed is fuzz/run.py's business
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=target.strategy)
    def prop(case: Any) -> None:
        outcome = run_case(target, case, tmp_path, time_limit=HANG_GUARD)
        assert not outcome.bad, f"{parser}: {outcome.kind}: {outcome.detail}"

    prop()


def test_every_parser_has_examples() -> None:
    assert set(EXAMPLES) == set(TARGETS)
