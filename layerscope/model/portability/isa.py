"""The x86-64 level each file needs and the image's, with the files that set it.

Where a file's level comes from, in order: a glibc-hwcaps directory (an optional variant,
never a need); the distribution's package (unchanged: built for the distribution's
baseline, not decoded); the GNU property note GNU_PROPERTY_X86_ISA_1_NEEDED when it names
more than the baseline (-mneeded or `ld -z x86-64-vN` put it there on purpose; glibc's
crt files mark every program "baseline", which says nothing); the decoded instructions.
Files that test the CPU at run time (dispatch) are listed apart: they use their highest
instructions only where the CPU has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from layerscope.model.portability.levels import BASELINE, LEVEL_FEATURES, extras, level_of

if TYPE_CHECKING:
    from layerscope.model.portability.report import FileInfo

__all__ = ["IsaFile", "IsaReport", "file_level", "isa_report", "note_level"]

COUNTED = ("note", "decoded", "distribution")


@dataclass(frozen=True, slots=True)
class IsaFile:
    path: str
    level: int
    source: str  # note, decoded, distribution, optional, dispatch, unknown
    features: tuple[str, ...] = ()  # above the baseline, and extensions outside the levels
    samples: dict[str, str] = field(default_factory=dict)
    partial: bool = False  # some code was not decoded (a file larger than the window)

    @property
    def counted(self) -> bool:
        return self.source in COUNTED


@dataclass(slots=True)
class IsaReport:
    level: int | None  # what the image needs (None: no x86-64 file)
    set_by: list[str]  # the files (not the distribution's) that need `level`
    extensions: list[str]  # what the files at `level` use beyond it (AES, AVX512_VNNI...)
    files: list[IsaFile]  # files above the baseline, and files that dispatch
    decoded: int = 0  # files whose instructions were decoded
    decoded_bytes: int = 0
    distribution: int = 0  # files the distribution's packages installed, unchanged
    distro_baseline: int = BASELINE
    optional: int = 0  # glibc-hwcaps variants
    unknown: list[str] = field(default_factory=list)  # level not told (not decoded)

    @property
    def dispatch(self) -> list[IsaFile]:
        return [f for f in self.files if f.source == "dispatch"]


def note_level(bits: int) -> int:
    """GNU_PROPERTY_X86_ISA_1_NEEDED bits -> level (bit 0 baseline ... bit 3 v4)."""
    return max((n + 1 for n in range(4) if bits & (1 << n)), default=0)


def file_level(f: FileInfo, distro_baseline: int) -> IsaFile | None:
    """The level one x86-64 file needs, and how that is known; None for other files."""
    elf = f.elf
    if elf.machine != "EM_X86_64" or elf.bits != 64:
        return None
    if f.optional is not None:
        return IsaFile(f.path, f.optional or BASELINE, "optional")
    if f.distribution:
        return IsaFile(f.path, distro_baseline, "distribution")
    noted = note_level(elf.isa_needed)
    dec = elf.decoded
    if dec is None:
        if noted > BASELINE:
            return IsaFile(f.path, noted, "note")  # a note names a level, not instructions
        return IsaFile(f.path, BASELINE, "unknown")
    feats = frozenset(dec.features)
    level = level_of(feats)
    above = tuple(sorted(x for x in feats if x not in LEVEL_FEATURES[1] and x in _shown(feats)))
    samples = {k: v for k, v in dec.samples.items() if k in above}
    if noted > BASELINE and noted >= level:
        return IsaFile(f.path, noted, "note", above, samples, dec.partial)
    source = "dispatch" if dec.dispatch else "decoded"
    return IsaFile(f.path, max(level, noted), source, above, samples, dec.partial)


def _shown(feats: frozenset[str]) -> set[str]:
    levelled = {x for n in (2, 3, 4) for x in LEVEL_FEATURES[n] if x in feats}
    return levelled | set(extras(feats))


def isa_report(files: list[FileInfo], distro_baseline: int) -> IsaReport:
    rows = [r for r in (file_level(f, distro_baseline) for f in files) if r is not None]
    counted = [r for r in rows if r.counted]
    level = max((r.level for r in counted), default=None)  # None: no file could tell
    # at the baseline, no file "sets" anything
    top = [r for r in counted if r.level == level and level > BASELINE]
    top = [r for r in top if r.source != "distribution"]
    ext = sorted({x for r in top for x in r.features if x not in _level_names(level or 0)})
    shown = [r for r in rows if (r.level > BASELINE and r.counted) or r.source == "dispatch"]
    shown = [r for r in shown if r.source != "distribution"]
    shown.sort(key=lambda r: (r.source == "dispatch", -r.level, r.path))
    return IsaReport(
        level=level,
        set_by=sorted(r.path for r in top),
        extensions=ext,
        files=shown,
        decoded=sum(1 for f in files if f.elf.decoded is not None and f.optional is None),
        decoded_bytes=sum(
            f.elf.decoded.code_bytes for f in files if f.elf.decoded and f.optional is None
        ),
        distribution=sum(1 for r in rows if r.source == "distribution"),
        distro_baseline=distro_baseline,
        optional=sum(1 for r in rows if r.source == "optional"),
        unknown=sorted(r.path for r in rows if r.source == "unknown"),
    )


def _level_names(level: int) -> set[str]:
    return {x for n in range(1, level + 1) for x in LEVEL_FEATURES.get(n, ())}
