"""x86-64 micro-architecture levels (the psABI's x86-64, -v2, -v3, -v4), the CPUID features
behind each, and CPU models as sets of features: what `--cpu` and `max-isa` compare with.

Feature names are iced-x86's `CpuidFeature` names, so decoded instructions map onto them
without translation. A level is the smallest one whose features include all that a file
needs; features no level includes (AES, SHA, AVX-512 extensions such as VNNI...) are
listed beside the level: a CPU model answers for them, a level cannot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BASELINE",
    "CPU_MODELS",
    "LEVEL_FEATURES",
    "CpuSpec",
    "level_name",
    "level_of",
    "parse_cpu",
    "parse_level",
]

BASELINE = 1
MAX_LEVEL = 4

# The x86-64 psABI's levels: what each adds over the one before (OSXSAVE and LAHF-SAHF
# are CPUID bits no instruction names on its own, so they are not listed).
LEVEL_FEATURES: dict[int, frozenset[str]] = {
    1: frozenset({"CMOV", "CX8", "FPU", "FXSR", "MMX", "SSE", "SSE2"}),
    2: frozenset({"CMPXCHG16B", "POPCNT", "SSE3", "SSE4_1", "SSE4_2", "SSSE3"}),
    3: frozenset({"AVX", "AVX2", "BMI1", "BMI2", "F16C", "FMA", "LZCNT", "MOVBE"}),
    4: frozenset({"AVX512F", "AVX512BW", "AVX512CD", "AVX512DQ", "AVX512VL"}),
}
_LEVEL_OF = {f: level for level, feats in LEVEL_FEATURES.items() for f in feats}

# Features every x86-64 CPU has (instructions of the 8086..Pentium 4 era, long mode).
ALWAYS = frozenset(
    {
        "INTEL8086",
        "INTEL186",
        "INTEL286",
        "INTEL386",
        "INTEL486",
        "X64",
        "CPUID",
        "TSC",
        "FPU287",
        "FPU387",
        "SYSCALL",
        "CLFSH",
        "SEP",
        "MSR",
        "RDPMC",
    }
)
# Instructions that execute as no-ops (hints) on CPUs without the feature: they never
# make a binary fail. ENDBR64 (CET_IBT) and RDSSP/INCSSP (CET_SS) sit in the hint-NOP
# space, BND prefixes (MPX) and XACQUIRE/XRELEASE (HLE) are ignored prefixes, multi-byte
# NOPs and PAUSE run everywhere, PREFETCHW is a NOP where it is missing.
HINTS = frozenset({"CET_IBT", "CET_SS", "MPX", "HLE", "MULTIBYTENOP", "PAUSE", "PREFETCHW"})

# Extensions outside the levels that still imply one: AVX-512 extensions need AVX-512F
# (v4); VEX-encoded extensions (AVX-VNNI, VAES...) need AVX (v3).
_IMPLIES_V4 = re.compile(r"AVX512")
_IMPLIES_V3 = frozenset(
    {"AVX_VNNI", "AVX_IFMA", "AVX_NE_CONVERT", "AVX_VNNI_INT8", "AVX_VNNI_INT16", "VAES",
     "VPCLMULQDQ", "GFNI", "FMA4", "XOP"}
)  # fmt: skip

LEVEL_NAMES = {1: "x86-64", 2: "x86-64-v2", 3: "x86-64-v3", 4: "x86-64-v4"}
_LEVEL_ALIASES = {
    "x86-64": 1,
    "x86_64": 1,
    "x86-64-v1": 1,
    "baseline": 1,
    "v1": 1,
    "x86-64-v2": 2,
    "v2": 2,
    "x86-64-v3": 3,
    "v3": 3,
    "x86-64-v4": 4,
    "v4": 4,
}


def level_name(level: int) -> str:
    return LEVEL_NAMES.get(level, f"level {level}")


def parse_level(text: str) -> int:
    """`x86-64`, `x86-64-v2`..`-v4` (also `baseline`, `v3`); ValueError names the text."""
    got = _LEVEL_ALIASES.get(text.strip().lower())
    if got is None:
        known = ", ".join(LEVEL_NAMES.values())
        raise ValueError(f"{text!r} is not an x86-64 level ({known})")
    return got


def feature_level(feature: str) -> int:
    """The level a feature needs (1 for one outside every level and implying none)."""
    got = _LEVEL_OF.get(feature)
    if got is not None:
        return got
    if _IMPLIES_V4.search(feature):
        return 4
    return 3 if feature in _IMPLIES_V3 else 1


def level_of(features: frozenset[str] | set[str]) -> int:
    """The lowest level a CPU must have to run code using `features`."""
    return max((feature_level(f) for f in features), default=BASELINE)


def extras(features: frozenset[str] | set[str]) -> list[str]:
    """The features no level includes (AES, SHA, AVX512_VNNI...): a CPU model tells."""
    return sorted(f for f in features if f not in _LEVEL_OF and f not in ALWAYS | HINTS)


def up_to(level: int) -> frozenset[str]:
    return frozenset().union(*(LEVEL_FEATURES[n] for n in range(1, level + 1)))


def _model(level: int, *more: str) -> frozenset[str]:
    return up_to(level) | frozenset(more)


_WESTMERE = _model(2, "AES", "PCLMULQDQ")
_SANDY = _WESTMERE | {"AVX", "XSAVE", "XSAVEOPT"}
_IVY = _SANDY | {"F16C", "RDRAND", "FSGSBASE"}
_HASWELL = _model(3, "AES", "PCLMULQDQ", "RDRAND", "FSGSBASE", "XSAVE", "XSAVEOPT", "INVPCID")
_BROADWELL = _HASWELL | {"ADX", "RDSEED", "PREFETCHW"}
_SKYLAKE = _BROADWELL | {"CLFLUSHOPT", "XSAVEC", "XSAVES"}
_SKX = _SKYLAKE | LEVEL_FEATURES[4] | {"CLWB", "PKU"}
_CASCADE = _SKX | {"AVX512_VNNI"}
_ICX = _CASCADE | {
    "AVX512_VBMI", "AVX512_VBMI2", "AVX512_IFMA", "AVX512_BITALG", "AVX512_VPOPCNTDQ",
    "VAES", "VPCLMULQDQ", "GFNI", "SHA", "RDPID", "WBNOINVD",
}  # fmt: skip
_SPR = _ICX | {
    "AVX512_BF16", "AVX512_FP16", "AVX_VNNI", "AMX_TILE", "AMX_INT8", "AMX_BF16",
    "SERIALIZE", "TSXLDTRK", "ENQCMD", "MOVDIRI", "MOVDIR64B", "CLDEMOTE", "WAITPKG",
}  # fmt: skip
_ALDER = _SKYLAKE | {"AVX_VNNI", "SHA", "GFNI", "VAES", "VPCLMULQDQ", "CLWB", "RDPID",
                     "MOVDIRI", "MOVDIR64B", "SERIALIZE", "WAITPKG"}  # fmt: skip
_ZEN1 = _model(3, "AES", "PCLMULQDQ", "RDRAND", "RDSEED", "ADX", "SHA", "FSGSBASE", "XSAVE",
               "XSAVEOPT", "XSAVEC", "XSAVES", "CLFLUSHOPT", "CLZERO", "SSE4A",
               "MONITORX", "PREFETCHW")  # fmt: skip
_ZEN2 = _ZEN1 | {"CLWB", "RDPID", "WBNOINVD"}
_ZEN3 = _ZEN2 | {"VAES", "VPCLMULQDQ", "INVPCID", "PKU"}
_ZEN4 = _ZEN3 | LEVEL_FEATURES[4] | {
    "AVX512_IFMA", "AVX512_VBMI", "AVX512_VBMI2", "AVX512_VNNI", "AVX512_BF16",
    "AVX512_BITALG", "AVX512_VPOPCNTDQ", "GFNI",
}  # fmt: skip
_ZEN5 = _ZEN4 | {"AVX_VNNI", "AVX512_VP2INTERSECT", "MOVDIRI", "MOVDIR64B"}

# GCC's -march names (and common aliases) -> the features the CPU has.
CPU_MODELS: dict[str, frozenset[str]] = {
    "nehalem": up_to(2),
    "westmere": _WESTMERE,
    "sandybridge": _SANDY,
    "ivybridge": _IVY,
    "haswell": _HASWELL,
    "broadwell": _BROADWELL,
    "skylake": _SKYLAKE,
    "skylake-avx512": _SKX,
    "cascadelake": _CASCADE,
    "cooperlake": _CASCADE | {"AVX512_BF16"},
    "icelake-server": _ICX,
    "icelake-client": _ICX,
    "sapphirerapids": _SPR,
    "emeraldrapids": _SPR,
    "graniterapids": _SPR | {"AMX_FP16", "PREFETCHITI"},
    "alderlake": _ALDER,
    "znver1": _ZEN1,
    "znver2": _ZEN2,
    "znver3": _ZEN3,
    "znver4": _ZEN4,
    "znver5": _ZEN5,
}
_MODEL_ALIASES = {
    "skx": "skylake-avx512",
    "icelake": "icelake-server",
    "icx": "icelake-server",
    "spr": "sapphirerapids",
    "zen": "znver1",
    "zen2": "znver2",
    "zen3": "znver3",
    "zen4": "znver4",
    "zen5": "znver5",
}


@dataclass(frozen=True, slots=True)
class CpuSpec:
    """What `--cpu` names: a level (features unknown beyond it) or a CPU model."""

    name: str
    level: int  # the highest level the CPU has
    features: frozenset[str] | None  # None: only the level is known

    def runs(self, needed: frozenset[str], level: int) -> bool:
        """Whether code needing `needed` features (or, without any, `level`) runs here."""
        if self.features is None or not needed:
            return level <= self.level
        return not self.missing(needed)

    def missing(self, needed: frozenset[str]) -> list[str]:
        have = self.features if self.features is not None else up_to(self.level)
        return sorted(f for f in needed if f not in have and f not in ALWAYS | HINTS)


def parse_cpu(text: str) -> CpuSpec:
    """`x86-64-v3` or a CPU model (`skylake-avx512`, `znver3`...); ValueError if unknown."""
    name = text.strip().lower()
    if name in _LEVEL_ALIASES:
        level = _LEVEL_ALIASES[name]
        return CpuSpec(level_name(level), level, None)
    model = _MODEL_ALIASES.get(name, name)
    feats = CPU_MODELS.get(model)
    if feats is None:
        known = ", ".join([*LEVEL_NAMES.values(), *CPU_MODELS])
        raise ValueError(f"unknown CPU {text!r} (known: {known})")
    return CpuSpec(model, cpu_level(feats), feats)


def cpu_level(features: frozenset[str]) -> int:
    """The highest level whose every feature a CPU has (Sandy Bridge has AVX but not
    AVX2: it is an x86-64-v2 CPU)."""
    return max(n for n in range(1, MAX_LEVEL + 1) if up_to(n) <= features | up_to(1))
