"""Bloat and leak analyses of a merged tree, in one import (each lives in its own module):

  bloat_dive     dive's efficiency score, wasted bytes, user-wasted percent (dive's formula)
  bloat_waste    honest reclaimable bytes: stored but invisible, by layer and reason
  bloat_dupes    the same content under different paths
  junk           caches, junk and optional slimming in the final tree
  secrets        secrets in files of any layer and in image metadata
  bloat_largest  the biggest files and directories

All are pure: where content matters, the caller passes a function that reads or hashes it
(`layerscope.engine.analysis` does, within a budget).
"""

from __future__ import annotations

from layerscope.model.bloat.dive import DiveCounter, DivePath, DiveResult, dive_efficiency
from layerscope.model.bloat.dupes import DuplicateReport, DuplicateSet, find_duplicates
from layerscope.model.bloat.junk import (
    CATEGORY,
    CLASSES,
    DEFAULT_CLASSES,
    JunkFinding,
    classify,
    find_junk,
)
from layerscope.model.bloat.largest import Largest, Sized, largest
from layerscope.model.bloat.secret_rules import redact
from layerscope.model.bloat.secrets import SecretFinding, find_file_secrets, find_meta_secrets
from layerscope.model.bloat.waste import (
    REASONS,
    Cause,
    PathCache,
    Provenance,
    WasteItem,
    WasteReport,
    content_key,
    reclaimable,
)

__all__ = [
    "CATEGORY",
    "CLASSES",
    "DEFAULT_CLASSES",
    "REASONS",
    "Cause",
    "DiveCounter",
    "DivePath",
    "DiveResult",
    "DuplicateReport",
    "DuplicateSet",
    "JunkFinding",
    "Largest",
    "PathCache",
    "Provenance",
    "SecretFinding",
    "Sized",
    "WasteItem",
    "WasteReport",
    "classify",
    "content_key",
    "dive_efficiency",
    "find_duplicates",
    "find_file_secrets",
    "find_junk",
    "find_meta_secrets",
    "largest",
    "reclaimable",
    "redact",
]
