"""The numbers an analysis hands to `check`: what each CI rule reads, by field name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Metrics:
    """One image's numbers; a rule in layerscope.check.rules names one field as its metric.
    None: not computable for this image (the rule is skipped, with the reason)."""

    efficiency: float | None  # dive's; None: dive's numbers could not be computed
    wasted_bytes: int | None  # dive's
    user_wasted_percent: float | None  # dive's; None: no user layers (dive: NaN)
    reclaimable_bytes: int
    image_bytes: int
    secrets: int  # secrets found, those shipped unchanged by a package left out
    cache_bytes: int
    valid_signatures: int = 0  # SIF signatures that verify against the keyrings
    # why the secret scan did not read everything (a limit, an unreadable file); None: it
    # did. A rule on secrets fails as incomplete rather than pass on part of the image.
    secrets_incomplete: str | None = None
    # the portability report's (None: not computed, or nothing to say: no x86-64 code...)
    isa_level: int | None = None  # the x86-64 level the image needs (1..4)
    architectures: tuple[str, ...] | None = None  # declared and found in ELF files
    kernel_floor: str | None = None  # the oldest kernel the image's libc accepts
    mpis: tuple[tuple[str, str | None], ...] | None = None  # (family, version) per MPI
    bundled_gpu_drivers: int | None = None  # NVIDIA driver libraries --nv would shadow
