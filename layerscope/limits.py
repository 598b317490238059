"""Safety limits for reading images nobody vouches for: one table, each limit overridable.

Images come from the internet and from registries the user does not control; a size field
is whatever an attacker wrote. Every reader takes its caps from here instead of keeping its
own constants, so that this table documents them all, one environment variable raises each,
and hitting any of them is a LimitExceededError (exit 3) whose one-line message names the
limit and the variable that raises it. The two `registry_*` limits bound a network transfer,
not the image: hitting them is a RegistryError (exit 4) with the same hint.

Overriding: `LAYERSCOPE_<NAME>=N` in the environment (`LAYERSCOPE_MAX_ENTRIES=50000000`;
sizes as `parse_bytes` reads them: `LAYERSCOPE_BOMB_FLOOR=8GB`, or `8GiB`), or `set_limit(name, n)`
from code. Values are read when a reader starts a job (opening an image, walking a layer),
never per entry.

Limits that only mirror a format's own maximum (a squashfs metadata block inflates to at
most 8 KiB, an ext4 extent tree is at most 5 deep) stay with their readers: they are facts
about the format, and no image that breaks them is valid.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from layerscope.errors import LimitExceededError, UsageError

__all__ = [
    "LIMITS",
    "Limit",
    "PathCap",
    "XattrBudget",
    "exceeded",
    "get",
    "hint",
    "parse_bytes",
    "parse_size",
    "reset_limits",
    "set_limit",
    "xattr_cost",
]


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    default: int
    doc: str

    @property
    def env(self) -> str:
        return "LAYERSCOPE_" + self.name.upper()


LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        Limit(
            "max_entries",
            10_000_000,
            "entries (files, directories, links...) in one layer or partition; the largest "
            "real images hold a few million, and each entry costs ~100-200 bytes of tree",
        ),
        Limit(
            "max_path_depth",
            4096,
            "directory levels in one path (PATH_MAX lets a real path have ~2048); bounds the "
            "work per entry of a crafted, endlessly nested tree",
        ),
        Limit("max_path_bytes", 65536, "bytes in one path inside an image (PATH_MAX is 4096)"),
        Limit(
            "bomb_ratio",
            200,
            "uncompressed bytes of a gzip/zstd layer per stored byte, beyond bomb_floor "
            "(deflate cannot exceed ~1032:1; real layers rarely pass 20:1)",
        ),
        Limit(
            "bomb_floor",
            1 << 30,
            "uncompressed bytes any gzip/zstd layer may reach whatever its ratio (keeps "
            "layers with large zero-filled files readable)",
        ),
        Limit(
            "max_metadata_bytes",
            1 << 30,
            "inflated bytes of squashfs metadata held at once (the inode and directory tables "
            "together; the xattr table alone), checked before inflating; "
            "a real table is ~50 bytes per entry",
        ),
        Limit(
            "max_json_bytes",
            4 << 20,
            "bytes of one JSON document: index.json, manifest, config, docker manifest.json "
            "(registries and containerd use 4 MiB; diffoci 1 MiB)",
        ),
        Limit(
            "max_xattr_bytes",
            256 << 20,
            "bytes of extended attributes (names and values, +32 per attribute) over one "
            "layer: a global PAX header, a shared squashfs xattr set or ext xattr block "
            "would otherwise attach a large set to every entry",
        ),
        Limit(
            "max_store_json_bytes",
            256 << 20,
            "bytes of a podman/buildah store's images.json or layers.json (one record per "
            "image or layer the store holds, ~1 KB each)",
        ),
        Limit("max_index_depth", 8, "image indexes nested inside image indexes"),
        Limit("max_layers", 4096, "layers in one manifest, images in one index (as diffoci)"),
        Limit(
            "max_sif_descriptors",
            65536,
            "descriptors in a SIF's table (Apptainer makes 48)",
        ),
        Limit(
            "max_sif_object_bytes",
            16 << 20,
            "bytes of one SIF metadata object (definition, JSON) read whole; a larger one "
            "is skipped with a warning, not an error",
        ),
        Limit(
            "elf_window_bytes",
            256 << 20,
            "bytes of one ELF file the portability report holds in memory; a larger one is "
            "read from its first and last halves of this (a note says what was not read)",
        ),
        Limit(
            "max_tar_header_bytes",
            16 << 20,
            "bytes of one tar extension payload (PAX records, GNU long name or link)",
        ),
        Limit(
            "registry_deadline",
            3600,
            "seconds one registry request (a token, a manifest, one blob download) may take "
            "in all, whatever trickles in; 0: no deadline. Hitting it is a network failure "
            "(exit 4), not a limit on the image",
        ),
        Limit(
            "registry_min_rate",
            10_000,
            "bytes per second a registry download must average over each 30 s; 0: no "
            "minimum. Hitting it is a network failure (exit 4)",
        ),
    )
}

_overrides: dict[str, int] = {}

# One size syntax for every number a user writes (limits, LAYERSCOPE_* variables, cache
# caps, check rules): go-humanize's ParseBytes, which dive applies to `.dive-ci`, so a
# size means what it means to dive users. SI prefixes are powers of 1000 ("20MB" and
# "20M" are 20,000,000), IEC ones powers of 1024 ("20MiB" is 20,971,520); case and the
# space before the unit do not matter.
SIZE_UNITS: dict[str, int] = {"": 1, "b": 1}
for _i, _p in enumerate("kmgtpe", 1):
    SIZE_UNITS[_p] = SIZE_UNITS[_p + "b"] = 1000**_i
    SIZE_UNITS[_p + "i"] = SIZE_UNITS[_p + "ib"] = 1024**_i
SIZE_SYNTAX = "a count, or a size such as 512MB, 8GB (powers of 1000) or 8GiB (of 1024)"


def parse_bytes(text: str) -> int:
    """A size exactly as go-humanize ParseBytes reads it: leading digits, '.' and ','
    (thousands separators, dropped) as a number, then an optional SI or IEC unit after
    optional spaces. Raises ValueError naming what is wrong."""
    digits = 0
    while digits < len(text) and (text[digits].isdecimal() or text[digits] in ".,"):
        digits += 1
    number = text[:digits].replace(",", "")
    if not re.fullmatch(r"\d+\.?\d*|\.\d+", number):
        raise ValueError(f"{text!r} is not a size ({SIZE_SYNTAX})")
    unit = text[digits:].strip().lower()
    if unit not in SIZE_UNITS:
        raise ValueError(f"{text!r}: unknown size unit {unit!r} ({SIZE_SYNTAX})")
    value = float(number) * SIZE_UNITS[unit]
    if value >= 2.0**63:
        raise ValueError(f"{text!r} is too large")
    return int(value)


def _parse(limit: Limit, text: str) -> int:
    return parse_size(limit.env, text)


def parse_size(env: str, text: str) -> int:
    """parse_bytes for a value set in environment variable (or option) `env`, named in
    the UsageError a malformed value raises."""
    try:
        return parse_bytes(text.strip())
    except ValueError as e:
        raise UsageError(f"{env}: {e}") from None


def _limit(name: str) -> Limit:
    try:
        return LIMITS[name]
    except KeyError:
        raise UsageError(f"unknown limit {name!r} (known: {', '.join(sorted(LIMITS))})") from None


def get(name: str) -> int:
    """The value of limit `name` now: set_limit() wins, then the environment, then the
    default. Raises UsageError for a malformed environment value."""
    limit = _limit(name)
    if name in _overrides:
        return _overrides[name]
    text = os.environ.get(limit.env)
    if text is None or not text.strip():
        return limit.default
    return _parse(limit, text)


def set_limit(name: str, value: int | str) -> None:
    """Override limit `name` for this process (a CLI option, a test)."""
    limit = _limit(name)
    n = _parse(limit, value) if isinstance(value, str) else value
    if n < 0:
        raise UsageError(f"limit {name} must not be negative (got {n})")
    _overrides[name] = n


def reset_limits() -> None:
    """Forget every set_limit() override."""
    _overrides.clear()


def hint(*names: str) -> str:
    """'limit max_entries=10000000; raise with LAYERSCOPE_MAX_ENTRIES=N or --limit ...'."""
    parts = [f"{n}={get(n)}" for n in names]
    envs = " or ".join(f"{_limit(n).env}=N or --limit {n}=N" for n in names)
    noun = "limits" if len(names) > 1 else "limit"
    return f"{noun} {', '.join(parts)}; raise with {envs}"


def exceeded(what: str, *names: str) -> LimitExceededError:
    """The error for hitting limit(s) `names`: '<what> (limit ...; raise with ...)'.
    `what` starts with the file (and layer/partition, byte offset) like every reader error."""
    return LimitExceededError(f"{what} ({hint(*names)})")


def xattr_cost(xattrs: dict[str, bytes]) -> int:
    """What a set of extended attributes counts against max_xattr_bytes."""
    return sum(len(k) + len(v) + 32 for k, v in xattrs.items())


class XattrBudget:
    """max_xattr_bytes for one walk of one layer."""

    __slots__ = ("left", "limit", "source")

    def __init__(self, source: str) -> None:
        self.limit = self.left = get("max_xattr_bytes")
        self.source = source

    def spend(self, xattrs: dict[str, bytes] | None, cost: int | None = None) -> None:
        if not xattrs:
            return
        self.left -= xattr_cost(xattrs) if cost is None else cost
        if self.left < 0:
            raise exceeded(
                f"{self.source}: more than {self.limit} bytes of extended attributes",
                "max_xattr_bytes",
            )


class PathCap:
    """max_path_bytes and max_path_depth, read once per walk, checked cheaply per entry.

    Hot loops test `len(path) > cap.quick` and call `cap.check` only then: a path of at
    most `quick` characters can be neither too long (a character encodes to at most 4
    bytes) nor too deep (each level costs a '/' and at least one name character)."""

    __slots__ = ("max_bytes", "max_depth", "quick")

    def __init__(self) -> None:
        self.max_bytes = get("max_path_bytes")
        self.max_depth = get("max_path_depth")
        self.quick = min(self.max_bytes // 4, 2 * self.max_depth)

    def check(self, path: str, source: str) -> None:
        """Raise LimitExceededError if `path` is too long or too deep."""
        if len(path.encode("utf-8", "surrogateescape")) > self.max_bytes:
            raise exceeded(
                f"{source}: path longer than {self.max_bytes} bytes: {path[:60]!r}...",
                "max_path_bytes",
            )
        depth = path.count("/")
        if depth > self.max_depth:
            raise exceeded(
                f"{source}: path {depth} levels deep: {path[:60]!r}...", "max_path_depth"
            )
