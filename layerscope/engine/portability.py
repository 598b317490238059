"""portability(img) -> PortabilityReport: will the image run on that cluster?

Which files are looked at: the live regular files of the final tree that could be ELF
(an executable bit, or `.so` in the name), each read once (engine.portability_reads).
Package databases say which are the distribution's own, unchanged: those are built for
its baseline and are not decoded. Files under glibc-hwcaps/ are optional variants.
Everything else that is x86-64 code and carries no GNU property note above the baseline
has its executable sections decoded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from layerscope.engine.image import Image
from layerscope.engine.owners import FileOwners
from layerscope.engine.portability_owners import ownership
from layerscope.engine.portability_reads import FactsReader, Want, read_small
from layerscope.errors import Cancelled
from layerscope.model.entry import EntryKind
from layerscope.model.portability.arch import hwcaps_level, parse_os_release
from layerscope.model.portability.changes import Change, portability_changes
from layerscope.model.portability.paths import resolve
from layerscope.model.portability.report import (
    Context,
    FileInfo,
    PortabilityReport,
    build_report,
)
from layerscope.model.portability.stacks import library_for
from layerscope.model.tree import FileTree

__all__ = [
    "Progress",
    "candidates",
    "portability",
    "portability_changes_of",
    "portability_metrics",
]

Progress = Callable[[str, int, int], None]
MIN_ELF = 52  # the smallest ELF header (32-bit)
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
SYSTEM_MANAGERS = frozenset({"dpkg", "rpm", "apk"})


def candidates(tree: FileTree) -> list[tuple[int, str]]:
    """Live regular files that may be ELF programs or libraries: executable, or named
    like a shared object (`libz.so.1.2.13`, `_multiarray.cpython-311-x86_64-linux-gnu.so`)."""
    kinds, modes, sizes, file_kind = tree.kind, tree.mode, tree.size, EntryKind.FILE
    out = []
    for node, path in tree.walk_paths():
        if kinds[node] != file_kind or sizes[node] < MIN_ELF:
            continue
        if modes[node] & 0o111 or ".so" in path[path.rfind("/") :]:
            out.append((node, path))
    return out


def _scans(path: str) -> tuple[str, ...]:
    name = path.rsplit("/", 1)[-1]
    lib = library_for(name)
    scans = [lib.scan] if lib is not None and lib.scan else []
    if name.startswith(("libc.so", "libc-2.")):
        scans.append("glibc")
    return tuple(scans)


def portability(
    img: Image,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    owned: FileOwners | None = None,
    decode: bool = True,
) -> PortabilityReport:
    """The portability report of the image's final tree (see model.portability);
    `owned`: the package ownership, when the caller has read it already; without
    `decode`, x86-64 levels come from property notes only (no instruction is decoded)."""
    tree = img.tree
    notes: list[str] = []
    owners = ownership(img, owned)
    notes.extend(owners.problems)
    wants = []
    for node, path in candidates(tree):
        rec = owners.record(path)
        # only the system's packages are built for its baseline: a pip wheel's or a
        # conda package's binaries are decoded like any other
        system = rec is not None and rec.package.manager in SYSTEM_MANAGERS
        digest = (rec.algo, rec.digest) if system and rec and rec.algo and rec.digest else None
        optional = hwcaps_level(path) is not None
        wants.append(Want(node, path, _scans(path), digest, decode and not optional))
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
    reader = FactsReader(img, notes, progress, cancel)
    got = reader.facts(wants)
    files = []
    for w in wants:
        ff = got.get(w.node)
        if ff is None or ff.elf is None:
            continue
        rec = owners.record(w.path)
        unchanged = w.unchanged(ff) if w.record is not None else None
        package = rec.package if rec is not None else None
        files.append(FileInfo(w.path, ff.elf, package, unchanged, hwcaps_level(w.path)))
    ctx = Context(
        ref=img.ref,
        format=img.meta.format,
        declared=img.meta.architecture,
        os_release=_os_release(img),
        packages=list(owners.packages),
        owners_known=owners.known,
        interpreters=_interpreters(tree, files),
    )
    report = build_report(files, ctx, notes)
    report.read_files, report.read_bytes = reader.read_files, reader.read_bytes
    return report


def portability_changes_of(
    a: Image, b: Image, progress: Progress | None = None, cancel: threading.Event | None = None
) -> list[Change]:
    """What changed for portability from image (or step) `a` to `b`."""
    return portability_changes(portability(a, progress, cancel), portability(b, progress, cancel))


def portability_metrics(r: PortabilityReport) -> dict[str, Any]:
    """The Metrics fields `check`'s portability rules read (engine.metrics)."""
    return {
        "isa_level": r.isa.level,
        "architectures": tuple(r.arch.architectures),
        "kernel_floor": r.glibc.kernel_floor,
        "mpis": tuple((c.key, c.version) for c in r.components if c.group == "mpi"),
        "bundled_gpu_drivers": sum(1 for d in r.driver_libs if d.reason == "bundled"),
    }


def _os_release(img: Image) -> dict[str, str]:
    for path in OS_RELEASE:
        node = resolve(img.tree, path)
        if node is not None and img.tree.kind[node] == EntryKind.FILE:
            data = read_small(img, [node], 1 << 16).get(node)
            if data is not None:
                return parse_os_release(data.decode("utf-8", "replace"))
    return {}


def _interpreters(tree: FileTree, files: list[FileInfo]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for f in files:
        interp = f.elf.interp
        if interp and interp not in out:
            node = resolve(tree, interp)
            out[interp] = node is not None and tree.kind[node] == EntryKind.FILE
    return out
