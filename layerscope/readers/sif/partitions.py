"""The filesystems inside SIF partitions, read in place: a squashfs primary partition, and
an Apptainer ext3 overlay whose upper/ tree is the layer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from layerscope.errors import UnsupportedFormatError
from layerscope.model.entry import Entry
from layerscope.readers.sif import format as sf


class PartitionFS(Protocol):
    info: dict[str, Any]  # JSON-ready superblock facts for LayerInfo.extra

    def iter_entries(self) -> Iterator[Entry]: ...

    def read_content(self, loc: int, size: int) -> Iterator[bytes]: ...

    def close(self) -> None: ...


def open_partition(path: str, d: sf.SifDescriptor, where: str) -> PartitionFS:
    """The filesystem of partition `d` of the SIF at `path`; `where` names it in errors."""
    if d.fs_type == sf.FS_SQUASHFS and d.part_type != sf.PART_OVERLAY:
        from layerscope.readers.squashfs.reader import SquashFS

        return SquashFS(path, d.offset, d.size, source=where)
    if d.fs_type == sf.FS_EXT3 and d.part_type == sf.PART_OVERLAY:
        return _UpperView(path, d.offset, d.size, where)
    kind = sf.FS_NAMES.get(d.fs_type, "unknown")
    part = sf.PART_NAMES.get(d.part_type, "unknown")
    raise UnsupportedFormatError(f"{where}: cannot list a {kind} partition of type {part}")


class _UpperView:
    """An Apptainer overlay partition: only its upper/ tree is a layer (work/ is scratch)."""

    def __init__(self, path: str, offset: int, size: int, source: str) -> None:
        from layerscope.readers.ext3.reader import Ext3FS

        self._fs = Ext3FS(path, offset, size, source=source)
        self.info: dict[str, Any] = {
            "label": self._fs.label,
            "needs_recovery": self._fs.needs_recovery,
        }

    def iter_entries(self) -> Iterator[Entry]:
        return self._fs.iter_entries(root="/upper")

    def read_content(self, loc: int, size: int) -> Iterator[bytes]:
        return self._fs.read_content(loc, size)

    def close(self) -> None:
        self._fs.close()
