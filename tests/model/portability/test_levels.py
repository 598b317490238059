"""x86-64 levels, CPU models, and the features iced-x86 reports for real encodings."""

from __future__ import annotations

import pytest

from layerscope.model.portability.decode import decode
from layerscope.model.portability.levels import (
    CPU_MODELS,
    LEVEL_FEATURES,
    cpu_level,
    extras,
    level_name,
    level_of,
    parse_cpu,
    parse_level,
)

# (hex bytes of one instruction, the features it needs); encodings as the Intel SDM
# gives them (and as objdump disassembles them)
ENCODINGS = [
    ("f30f1efa", set()),  # endbr64: a hint NOP
    ("0f58c1", {"SSE"}),  # addps xmm0, xmm1
    ("f3480fb8c0", {"POPCNT"}),  # popcnt rax, rax
    ("660f3817c1", {"SSE4_1"}),  # ptest xmm0, xmm1
    ("c4e27d18c0", {"AVX2"}),  # vbroadcastss ymm0, xmm0
    ("c4e2f9a8c1", {"FMA"}),  # vfmadd213pd xmm0, xmm0, xmm1
    ("f3480fbdc0", {"LZCNT"}),  # lzcnt rax, rax
    ("f3480fbcc0", set()),  # tzcnt rax, rax: BSF where BMI1 is missing, what gcc emits
    ("62f17c4858c1", {"AVX512F"}),  # vaddps zmm0, zmm0, zmm1
    ("62f1fd28efc1", {"AVX512F", "AVX512VL"}),  # vpxorq ymm0, ymm0, ymm1
    ("660f3a44c000", {"PCLMULQDQ"}),  # pclmulqdq xmm0, xmm0, 0
]


@pytest.mark.parametrize(("code", "features"), ENCODINGS)
def test_decoded_features(code: str, features: set[str]) -> None:
    got = decode([bytes.fromhex(code)])
    assert got.features == features and not got.dispatch


def test_cpuid_and_xgetbv_mean_dispatch() -> None:
    assert decode([bytes.fromhex("0fa2")]).dispatch  # cpuid
    assert decode([bytes.fromhex("0f01d0")]).dispatch  # xgetbv
    assert not decode([bytes.fromhex("90c3")]).dispatch  # nop; ret


def test_levels_from_features() -> None:
    assert level_of(frozenset()) == 1
    assert level_of(frozenset({"SSE2", "POPCNT"})) == 2
    assert level_of(frozenset({"AVX"})) == 3  # Sandy Bridge's AVX is not v2
    assert level_of(frozenset({"AVX512_VNNI"})) == 4  # implies AVX-512F
    assert level_of(frozenset({"VAES"})) == 3
    assert level_of(frozenset({"AES", "SHA"})) == 1  # outside the levels
    assert extras(frozenset({"AES", "AVX2", "CET_IBT", "X64"})) == ["AES"]


def test_level_names_round_trip() -> None:
    for n in (1, 2, 3, 4):
        assert parse_level(level_name(n)) == n
    assert parse_level("baseline") == parse_level("x86-64-v1") == 1
    with pytest.raises(ValueError, match="'x86-64-v5' is not an x86-64 level"):
        parse_level("x86-64-v5")


@pytest.mark.parametrize(
    ("cpu", "level"),
    [
        ("nehalem", 2),
        ("sandybridge", 2),  # AVX without AVX2
        ("haswell", 3),
        ("skylake", 3),
        ("skylake-avx512", 4),
        ("icelake-server", 4),
        ("znver1", 3),
        ("znver3", 3),
        ("znver4", 4),
        ("alderlake", 3),
        ("x86-64-v2", 2),
    ],
)
def test_cpu_models(cpu: str, level: int) -> None:
    assert parse_cpu(cpu).level == level


def test_every_model_has_its_levels_features() -> None:
    for name, feats in CPU_MODELS.items():
        level = cpu_level(feats)
        for n in range(1, level + 1):
            assert LEVEL_FEATURES[n] <= feats | LEVEL_FEATURES[1], name


def test_cpu_runs() -> None:
    sandy = parse_cpu("sandybridge")
    assert sandy.runs(frozenset({"AVX"}), 3)  # by its features: it has AVX
    assert not sandy.runs(frozenset({"AVX2"}), 3)
    assert sandy.missing(frozenset({"AVX2", "FMA", "SSE2"})) == ["AVX2", "FMA"]
    v3 = parse_cpu("x86-64-v3")
    assert v3.features is None and v3.runs(frozenset(), 3) and not v3.runs(frozenset(), 4)
    with pytest.raises(ValueError, match="unknown CPU 'm1'"):
        parse_cpu("m1")
