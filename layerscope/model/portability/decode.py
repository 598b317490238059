"""Which CPU features a piece of x86-64 machine code uses, by decoding it with iced-x86.

Only the set of distinct instruction codes matters, so the decoder runs as one set
comprehension (5-13 MB of code a second here, a Python object per instruction being the
cost) and each code is mapped to its CPUID features through a table built once from
iced's own instruction data.

Code that picks an implementation at run time (`cpuid`/`xgetbv` to test the CPU, as
glibc's ifuncs, OpenBLAS, numpy or `__builtin_cpu_supports` do) uses instructions the
CPU may never execute: `dispatch` says so, and the report does not count such a file's
highest instructions as a requirement.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from iced_x86 import Code, CpuidFeature, Decoder, Instruction, Mnemonic

from layerscope.model.portability.levels import ALWAYS, HINTS

if TYPE_CHECKING:
    from iced_x86._iced_x86_py import Code as CodeValue

__all__ = ["Decoded", "decode"]

_DISPATCH = frozenset({Code.CPUID, Code.XGETBV})


@dataclass(frozen=True, slots=True)
class _Tables:
    features: tuple[frozenset[str], ...]  # by Code
    mnemonics: tuple[str, ...]  # by Code, lower case


@functools.cache
def _tables() -> _Tables:
    feature_names = {v: k for k, v in vars(CpuidFeature).items() if isinstance(v, int)}
    mnemonic_names = {v: k.lower() for k, v in vars(Mnemonic).items() if isinstance(v, int)}
    count = max(v for v in vars(Code).values() if isinstance(v, int)) + 1
    feats: list[frozenset[str]] = []
    mnems: list[str] = []
    for code in range(count):
        try:
            ins = Instruction.create(cast("CodeValue", code))
            names = frozenset(feature_names.get(f, str(f)) for f in ins.cpuid_features())
            mnem = mnemonic_names.get(ins.mnemonic, "?")
        except (ValueError, TypeError):
            names, mnem = frozenset(), "?"
        if mnem == "tzcnt":
            # F3 0F BC: a CPU without BMI1 runs it as BSF (the REP prefix is ignored),
            # which gives the same answer for any non-zero input; compilers emit it in
            # baseline code for __builtin_ctz for that reason. LZCNT has no such twin.
            names = frozenset()
        feats.append(names - ALWAYS - HINTS)
        mnems.append(mnem)
    return _Tables(tuple(feats), tuple(mnems))


@dataclass(frozen=True, slots=True)
class Decoded:
    features: frozenset[str]  # CPUID features the code needs (none of ALWAYS or HINTS)
    dispatch: bool  # the code tests the CPU (cpuid/xgetbv) and may branch around them
    code_bytes: int  # bytes decoded
    samples: dict[str, str]  # feature -> one instruction mnemonic that uses it


def decode(ranges: Iterable[bytes]) -> Decoded:
    """Decode each range of 64-bit code (executable sections) from its first byte."""
    tables = _tables()
    codes: set[int] = set()
    total = 0
    for data in ranges:
        total += len(data)
        codes.update({ins.code for ins in Decoder(64, data)})
    features: set[str] = set()
    samples: dict[str, str] = {}
    for code in sorted(codes):
        if code >= len(tables.features):
            continue
        for feat in tables.features[code]:
            features.add(feat)
            samples.setdefault(feat, tables.mnemonics[code])
    return Decoded(frozenset(features), bool(codes & _DISPATCH), total, samples)
