"""The portability rules (max-isa, architecture, min-kernel, mpi, no-bundled-gpu-driver):
their values, evaluation against Metrics, and SKIP when the image has nothing to say."""

from __future__ import annotations

import dataclasses

import pytest

from layerscope.check.config import build_config
from layerscope.check.evaluate import evaluate
from layerscope.check.rules import ARCH, ISA_LEVEL, KERNEL, MPI, RULES, rules_help
from layerscope.engine.metrics import Metrics
from layerscope.errors import UsageError

BASE = Metrics(
    efficiency=1.0,
    wasted_bytes=0,
    user_wasted_percent=None,
    reclaimable_bytes=0,
    image_bytes=1,
    secrets=0,
    cache_bytes=0,
    isa_level=3,
    architectures=("amd64", "arm64"),
    kernel_floor="3.2.0",
    mpis=(("openmpi", "4.1.4"), ("mpich", "4.0.2")),
    bundled_gpu_drivers=1,
)
PORTABILITY = ["max-isa", "architecture", "min-kernel", "mpi", "no-bundled-gpu-driver"]


def _run(overrides: dict[str, str], metrics: Metrics = BASE) -> dict[str, tuple[str, str]]:
    config = build_config(None, None, overrides)
    return {r.key: (r.status, r.message) for r in evaluate(config, metrics) if r.key in PORTABILITY}


def test_portability_rules_are_in_the_table_and_the_help() -> None:
    assert [r.key for r in RULES if r.portability] == PORTABILITY
    text = rules_help()
    assert all(key in text for key in PORTABILITY)


def test_values() -> None:
    assert ISA_LEVEL.parse("x86-64-v2") == 2 and ISA_LEVEL.parse("disabled") is None
    assert ARCH.parse("x86_64") == "amd64" and ARCH.parse("aarch64") == "arm64"
    assert KERNEL.parse("3.10.0-1160.el7.x86_64") == "3.10.0"
    assert MPI.parse("OpenMPI>=4.1") == "openmpi>=4.1"
    for kind, bad in ((ISA_LEVEL, "x86-64-v9"), (KERNEL, "latest"), (MPI, "lam-mpi>1")):
        with pytest.raises(ValueError, match=repr(bad)):
            kind.parse(bad)


def test_evaluated() -> None:
    got = _run(
        {
            "max-isa": "x86-64-v2",
            "architecture": "amd64",
            "min-kernel": "3.10.0",
            "mpi": "openmpi>=4.1",
            "no-bundled-gpu-driver": "true",
        }
    )
    assert got == {
        "max-isa": ("FAIL", "x86-64 level x86-64-v3 > x86-64-v2"),
        "architecture": ("FAIL", "architectures amd64, arm64 != amd64"),
        "min-kernel": ("PASS", "kernel the image needs 3.2.0 <= 3.10.0"),
        "mpi": ("PASS", "MPI openmpi 4.1.4, mpich 4.0.2 matches openmpi>=4.1"),
        "no-bundled-gpu-driver": ("FAIL", "bundled NVIDIA driver libraries 1 > 0"),
    }
    got = _run({"min-kernel": "2.6.32", "mpi": "mpich>=4.1", "max-isa": "v3"})
    assert got["min-kernel"] == ("FAIL", "kernel the image needs 3.2.0 > 2.6.32")
    assert got["mpi"][0] == "FAIL" and got["max-isa"][0] == "PASS"


def test_skipped_when_the_image_has_nothing_to_say() -> None:
    empty = dataclasses.replace(BASE, isa_level=None, kernel_floor=None)
    got = _run({"max-isa": "x86-64-v2", "min-kernel": "3.10.0"}, empty)
    assert got["max-isa"] == ("SKIP", "no x86-64 code in the image")
    assert got["min-kernel"] == ("SKIP", "the image declares no kernel floor (no glibc)")


def test_bad_value_names_the_rule() -> None:
    with pytest.raises(UsageError, match=r"--rule max-isa=v7: 'v7' is not an x86-64 level"):
        build_config(None, None, {"max-isa": "v7"})
