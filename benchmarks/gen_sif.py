"""A small deterministic SIF writer, for benchmark inputs only.

Lays a file out the way sylabs/sif v2 `CreateContainer` does: global header at 0, a table
of 48 descriptors at 4096, data from 4096 + 48 * 585 = 32176 on, each object appended at
the next offset its alignment allows (partitions: 4096), SizeWithPadding counting the gap,
objects in group 1, the primary partition's arch copied into the header. Not a general SIF
tool: no signing, no deletion, no in-place edits.

    python benchmarks/gen_sif.py OUT.sif ROOTFS.sqfs [DEFFILE]   # wrap a squashfs
    python benchmarks/gen_sif.py --check                         # compare with a fixture
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from layerscope.readers.sif import format as sf

LAUNCH_SCRIPT = "#!/usr/bin/env run-singularity\n"
DESCRIPTORS_OFFSET = 4096
CAPACITY = 48
PARTITION_ALIGNMENT = 4096
COPY_CHUNK = 1 << 20


@dataclass(slots=True)
class SifObject:
    """One data object to write: bytes in memory or a file streamed from `path`."""

    data_type: int
    data: bytes = b""
    path: str | None = None
    name: str = ""
    group: int | None = 1
    raw_link: int = 0
    extra: bytes = b""
    alignment: int | None = None  # None: 4096 for partitions, 1 otherwise (the library's)
    time: int | None = None  # None: the image creation time

    def size(self) -> int:
        return os.path.getsize(self.path) if self.path is not None else len(self.data)


def partition_extra(fs_type: int, part_type: int, arch: str) -> bytes:
    """The Extra field of a partition descriptor: Fstype, Parttype int32, Arch [3]byte."""
    return (
        fs_type.to_bytes(4, "little", signed=True)
        + part_type.to_bytes(4, "little", signed=True)
        + sf.ARCH_CODES[arch]
    )


def _aligned(offset: int, alignment: int) -> int:
    return -(-offset // alignment) * alignment if alignment > 1 else offset


def write_objects(
    out_path: str,
    objects: Sequence[SifObject],
    *,
    launch_script: str = LAUNCH_SCRIPT,
    sif_id: str = str(uuid.UUID(int=0)),
    created: int = sf.GO_ZERO_TIME,
    modified: int | None = None,
) -> None:
    """Write a SIF holding `objects` (ids 1..n in order). Defaults are the library's
    deterministic ones: nil ID and Go's zero time."""
    if len(objects) > CAPACITY:
        raise ValueError(f"at most {CAPACITY} objects")
    table_size = CAPACITY * sf.DESCRIPTOR.size
    data_offset = DESCRIPTORS_OFFSET + table_size
    arch = sf.ARCH_UNKNOWN
    descriptors: list[sf.SifDescriptor] = []
    with open(out_path, "wb") as out:
        end = data_offset
        for i, obj in enumerate(objects):
            is_part = obj.data_type == sf.PARTITION
            align = (
                obj.alignment
                if obj.alignment is not None
                else (PARTITION_ALIGNMENT if is_part else 1)
            )
            offset = _aligned(end, align)
            out.seek(offset)
            if obj.path is not None:
                with open(obj.path, "rb") as src:
                    shutil.copyfileobj(src, out, COPY_CHUNK)
            else:
                out.write(obj.data)
            size = out.tell() - offset
            t = created if obj.time is None else obj.time
            descriptors.append(
                sf.SifDescriptor(
                    data_type=obj.data_type,
                    used=True,
                    id=i + 1,
                    raw_group=(obj.group or 0) | sf.GROUP_MASK,
                    raw_link=obj.raw_link,
                    offset=offset,
                    size=size,
                    size_with_padding=offset - end + size,
                    created_at=t,
                    modified_at=t,
                    uid=0,
                    gid=0,
                    name_raw=obj.name.encode(),
                    extra=obj.extra,
                )
            )
            if is_part and obj.extra[4:8] == sf.PART_PRIMSYS.to_bytes(4, "little"):
                arch = obj.extra[8:11]
            end = offset + size
        header = sf.SifHeader(
            launch_script=launch_script.encode(),
            magic=sf.MAGIC,
            version=sf.VERSION_01,
            arch=arch,
            id=uuid.UUID(sif_id).bytes,
            created_at=created,
            modified_at=created if modified is None else modified,
            descriptors_free=CAPACITY - len(objects),
            descriptors_total=CAPACITY,
            descriptors_offset=DESCRIPTORS_OFFSET,
            descriptors_size=table_size,
            data_offset=data_offset,
            data_size=end - data_offset,
        )
        out.seek(0)
        out.write(header.pack())
        out.seek(DESCRIPTORS_OFFSET)
        # struct pads the short Name/Extra fields with NULs, as Go's fixed arrays are.
        out.write(b"".join(d.pack() for d in descriptors))
        out.write(bytes(table_size - len(descriptors) * sf.DESCRIPTOR.size))
        out.truncate(max(end, data_offset))


def write_sif(out_path: str, squashfs_path: str, definition: str, arch: str = "amd64") -> None:
    """A minimal Apptainer-like SIF: Def.FILE (id 1) and the squashfs as the primary system
    partition (id 2, 4096-aligned), both in group 1; deterministic header."""
    write_objects(
        out_path,
        [
            SifObject(sf.DEF_FILE, data=definition.encode()),
            SifObject(
                sf.PARTITION,
                path=squashfs_path,
                extra=partition_extra(sf.FS_SQUASHFS, sf.PART_PRIMSYS, arch),
            ),
        ],
    )


def rewrite_like(fixture: str, out_path: str) -> None:
    """Write `fixture`'s objects again with this writer, keeping its ID, times, names and
    extras: the result's header and table should be byte-identical to the fixture's."""
    with open(fixture, "rb") as f:
        raw = f.read()
    h = sf.SifHeader.parse(raw[: sf.HEADER.size])
    objects = []
    for i in range(h.descriptors_total):
        at = h.descriptors_offset + i * sf.DESCRIPTOR.size
        d = sf.SifDescriptor.parse(raw[at : at + sf.DESCRIPTOR.size])
        if not d.used:
            continue
        objects.append(
            SifObject(
                d.data_type,
                data=raw[d.offset : d.offset + d.size],
                name=d.name,
                group=d.group,
                raw_link=d.raw_link,
                extra=d.extra.rstrip(b"\x00"),
                time=d.created_at,
            )
        )
    write_objects(
        out_path,
        objects,
        launch_script=sf.cstr(h.launch_script),
        sif_id=str(uuid.UUID(bytes=h.id)),
        created=h.created_at,
        modified=h.modified_at,
    )


def check(fixture: Path, out_path: str) -> list[str]:
    """Differences between `fixture` and its rewrite (empty when the layouts agree)."""
    from layerscope.readers.sif.reader import SifReader

    rewrite_like(str(fixture), out_path)
    problems = []
    with SifReader(str(fixture)) as a, SifReader(out_path) as b:
        ma, mb = a.describe(), b.describe()
    assert ma.sif is not None and mb.sif is not None
    ha, hb = ma.sif["header"], mb.sif["header"]
    for key in ha:
        if ha[key] != hb[key]:
            problems.append(f"header {key}: fixture {ha[key]!r}, writer {hb[key]!r}")
    if ma.sif["descriptors"] != mb.sif["descriptors"]:
        problems.append("descriptor tables differ")
    with open(fixture, "rb") as f1, open(out_path, "rb") as f2:
        if f1.read() != f2.read():
            problems.append("file bytes differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?")
    ap.add_argument("squashfs", nargs="?")
    ap.add_argument("deffile", nargs="?")
    ap.add_argument("--arch", default="amd64")
    ap.add_argument("--check", action="store_true", help="compare with a fixture and exit")
    args = ap.parse_args(argv)
    if args.check:
        import tempfile

        fixture = Path(__file__).resolve().parent.parent / "fixtures/sif/alpine-like-base.sif"
        with tempfile.TemporaryDirectory() as tmp:
            problems = check(fixture, os.path.join(tmp, "rewrite.sif"))
        for p in problems:
            print(p)
        print("writer layout matches", fixture.name if not problems else "MISMATCH")
        return 1 if problems else 0
    if not (args.out and args.squashfs):
        ap.error("OUT and SQUASHFS are required")
    definition = Path(args.deffile).read_text() if args.deffile else "Bootstrap: scratch\n"
    write_sif(args.out, args.squashfs, definition, args.arch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
