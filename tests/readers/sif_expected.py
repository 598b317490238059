"""What the SIF tests compare with: siftool's text, the fixture tables, the writer."""

from __future__ import annotations

import functools
import importlib.util
import math
import re
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

from layerscope.model.entry import EntryKind
from layerscope.readers.sif.reader import SifReader
from tests.conftest import EXPECTED, FIXTURES, ROOT

SIF = FIXTURES / "sif"
UPSTREAM = sorted(p.name for p in (SIF / "upstream-sylabs").glob("*.sif"))
CHAIN = ["alpine-like-base", "stage1", "stage2", "final"]
LOCAL = [*CHAIN, "alpine-like-base-signed", "with-overlay"]
COMPRESSION = sorted(p.stem for p in (SIF / "compression").glob("*.sif"))
# fixture file -> its expected/sif/<key>.* name and the defs/ it was built from
ALL_LOCAL = {f"{n}.sif": (n, n.removesuffix("-signed")) for n in LOCAL} | {
    f"compression/{c}.sif": (f"compression__{c}", "alpine-like-base") for c in COMPRESSION
}
ALL_LOCAL["with-overlay.sif"] = ("with-overlay", "alpine-like-base")
COUNT_KIND = {
    "dir": EntryKind.DIR,
    "file": EntryKind.FILE,
    "symlink": EntryKind.SYMLINK,
    "chardev": EntryKind.CHAR,
    "blockdev": EntryKind.BLOCK,
    "fifo": EntryKind.FIFO,
    "socket": EntryKind.SOCKET,
}


# -- siftool's text ----------------------------------------------------------------------------


def parse_siftool(text: str) -> tuple[dict[str, str], list[tuple[str, ...]]]:
    """`siftool header` + `siftool list` -> ({key: value}, [(id, group, link, pos, type)])."""
    header: dict[str, str] = {}
    rows = []
    for line in (raw.strip() for raw in text.splitlines()):
        if "|" in line and not line.startswith("ID "):
            cols = [re.sub(r"\s+", " ", c).strip() for c in line.split("|")]
            rows.append(tuple(cols))
        elif ":" in line and not line.startswith("-"):
            key, _, value = line.partition(":")
            header[key.strip()] = value.strip()
    return header, rows


def upstream_sections() -> dict[str, str]:
    text = (EXPECTED / "sif/upstream-sylabs.siftool.txt").read_text()
    parts = re.split(r"^### (\S+)\n", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def readable_size(size: int) -> str:
    """siftool's readableSize (math.Round rounds halves away from zero)."""
    if -1024 < size < 1024:
        return f"{size} B"
    div, exp, n = 1024, 0, size // 1024
    while n >= 1024:
        div, exp, n = div * 1024, exp + 1, n // 1024
    return f"{math.floor(size / div + 0.5)} {'KMGTPE'[exp]}iB"


def go_time(iso: str | None) -> str | None:
    if iso is None:
        return None
    t = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def siftool_view(meta_sif: dict[str, Any]) -> tuple[dict[str, str], list[tuple[str, ...]]]:
    """Our describe() rendered the way siftool prints it (only what siftool prints)."""
    h = meta_sif["header"]
    out: dict[str, str | None] = {
        "Launch Script": h["launch_script"].removesuffix("\n") or None,
        "Version": h["version"],
        "Primary Architecture": None if h["arch"] == "unknown" else h["arch"],
        "ID": None if h["id"] == "00000000-0000-0000-0000-000000000000" else h["id"],
        "Created At": go_time(h["created"]),
        "Modified At": go_time(h["modified"]),
        "Descriptors Free": str(h["descriptors_free"]),
        "Descriptors Total": str(h["descriptors_total"]),
        "Descriptors Offset": str(h["descriptors_offset"]),
        "Descriptors Size": readable_size(h["descriptors_size"]),
        "Data Offset": str(h["data_offset"]),
        "Data Size": readable_size(h["data_size"]),
    }
    rows: list[tuple[str, ...]] = [
        (
            str(d["id"]),
            "NONE" if d["group"] is None else str(d["group"]),
            d["link"],
            f"{d['start']}-{d['end']}",
            d["type_label"],
        )
        for d in meta_sif["descriptors"]
    ]
    return {k: v for k, v in out.items() if v is not None}, rows


def describe_sif(path: Path) -> Any:
    with SifReader(str(path)) as r:
        meta = r.describe()
    assert meta.format == "sif" and meta.sif is not None
    return meta


@functools.cache
def load_gen_sif() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_sif", ROOT / "benchmarks/gen_sif.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_sif"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def count_entries(reader: SifReader, layer: int) -> dict[str, int]:
    kinds: Counter[EntryKind] = Counter()
    file_bytes = 0
    for e in reader.iter_entries(layer):
        if e.path == "/":
            continue
        kinds[e.kind] += 1
        if e.kind is EntryKind.FILE:
            file_bytes += e.size
    out = {name: kinds[k] for name, k in COUNT_KIND.items()}
    return out | {"total": sum(kinds.values()), "file_bytes": file_bytes}
