"""SIF on-disk layout: the global header and the descriptor table, as sylabs/sif v2 writes them.

Pure parsing and naming (no file access), shared by the reader and the benchmark writer.
Every value and every name below is checked against sylabs/sif v2 (pkg/sif/sif.go,
descriptor.go, arch.go; internal/app/siftool/info.go for siftool's spellings); the one
Apptainer-only value (FsGocryptfsSquashfs) comes from apptainer/sif.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

# Go's encoding/binary packs structs without padding, little endian.
# header: LaunchScript [32]byte, Magic [10]byte, Version [3]byte, Arch [3]byte, ID [16]byte,
# CreatedAt, ModifiedAt, DescriptorsFree, DescriptorsTotal, DescriptorsOffset,
# DescriptorsSize, DataOffset, DataSize int64.
HEADER = struct.Struct("<32s10s3s3s16s8q")
# rawDescriptor: DataType int32, Used bool, ID, GroupID, LinkedID uint32, Offset, Size,
# SizeWithPadding, CreatedAt, ModifiedAt, UID, GID int64, Name [128]byte, Extra [384]byte.
DESCRIPTOR = struct.Struct("<i?IIIqqqqqqq128s384s")
assert HEADER.size == 128 and DESCRIPTOR.size == 585

MAGIC = b"SIF_MAGIC\x00"
MAGIC_OFFSET = 32
VERSION_01 = b"01\x00"
GROUP_MASK = 0xF0000000  # descrGroupMask: group ids and group links carry these bits
# What time.Time{}.Unix() stores: deterministic images write it; siftool prints no time then.
GO_ZERO_TIME = -62135596800

DEF_FILE = 0x4001
ENV_VARS = 0x4002
JSON_LABELS = 0x4003
PARTITION = 0x4004
SIGNATURE = 0x4005
JSON_GENERIC = 0x4006
GENERIC = 0x4007
CRYPTO_MESSAGE = 0x4008
SBOM = 0x4009
OCI_ROOT_INDEX = 0x400A
OCI_BLOB = 0x400B

DATA_TYPE_NAMES = {
    DEF_FILE: "Def.FILE",
    ENV_VARS: "Env.Vars",
    JSON_LABELS: "JSON.Labels",
    PARTITION: "FS",
    SIGNATURE: "Signature",
    JSON_GENERIC: "JSON.Generic",
    GENERIC: "Generic/Raw",
    CRYPTO_MESSAGE: "Cryptographic Message",
    SBOM: "SBOM",
    OCI_ROOT_INDEX: "OCI.RootIndex",
    OCI_BLOB: "OCI.Blob",
}

FS_SQUASHFS = 1
FS_EXT3 = 2
FS_IMMUOBJ = 3
FS_RAW = 4
FS_ENCRYPTED_SQUASHFS = 5
FS_GOCRYPTFS_SQUASHFS = 6  # apptainer/sif only (unprivileged encrypted builds)
FS_NAMES = {
    FS_SQUASHFS: "Squashfs",
    FS_EXT3: "Ext3",
    FS_IMMUOBJ: "Archive",
    FS_RAW: "Raw",
    FS_ENCRYPTED_SQUASHFS: "Encrypted squashfs",
    FS_GOCRYPTFS_SQUASHFS: "Gocryptfs squashfs",
}
ENCRYPTED_FS = frozenset({FS_ENCRYPTED_SQUASHFS, FS_GOCRYPTFS_SQUASHFS})

PART_SYSTEM = 1
PART_PRIMSYS = 2
PART_DATA = 3
PART_OVERLAY = 4
PART_NAMES = {
    PART_SYSTEM: "System",
    PART_PRIMSYS: "*System",
    PART_DATA: "Data",
    PART_OVERLAY: "Overlay",
}

# hashType -> crypto.Hash.String()
HASH_NAMES = {1: "SHA-256", 2: "SHA-384", 3: "SHA-512", 4: "BLAKE2s-256", 5: "BLAKE2b-256"}
FORMAT_NAMES = {1: "OpenPGP", 2: "PEM"}
MESSAGE_NAMES = {0x100: "Clear Signature", 0x200: "RSA-OAEP"}
SBOM_NAMES = {
    1: "cyclonedx-json",
    2: "cyclonedx-xml",
    3: "github-json",
    4: "spdx-json",
    5: "spdx-rdf",
    6: "spdx-tag-value",
    7: "spdx-yaml",
    8: "syft-json",
}

# archType: two ASCII digits and a NUL, mapped to Go's GOARCH names.
ARCH_CODES = {
    "386": b"01\x00",
    "amd64": b"02\x00",
    "arm": b"03\x00",
    "arm64": b"04\x00",
    "ppc64": b"05\x00",
    "ppc64le": b"06\x00",
    "mips": b"07\x00",
    "mipsle": b"08\x00",
    "mips64": b"09\x00",
    "mips64le": b"10\x00",
    "s390x": b"11\x00",
    "riscv64": b"12\x00",
}
ARCH_UNKNOWN = b"00\x00"
_ARCH_BY_CODE = {v: k for k, v in ARCH_CODES.items()}


def go_arch(code: bytes) -> str:
    return _ARCH_BY_CODE.get(code, "unknown")


def cstr(raw: bytes) -> str:
    """A NUL-padded byte field as text (Go trims trailing NULs only)."""
    return raw.rstrip(b"\x00").decode("utf-8", "replace")


def iso_time(t: int) -> str | None:
    """Unix seconds as ISO-8601 UTC, None for Go's zero time or an unrepresentable value."""
    if t == GO_ZERO_TIME:
        return None
    try:
        return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class SifHeader:
    launch_script: bytes
    magic: bytes
    version: bytes
    arch: bytes
    id: bytes
    created_at: int
    modified_at: int
    descriptors_free: int
    descriptors_total: int
    descriptors_offset: int
    descriptors_size: int
    data_offset: int
    data_size: int

    @classmethod
    def parse(cls, raw: bytes) -> SifHeader:
        return cls(*HEADER.unpack(raw))

    def pack(self) -> bytes:
        return HEADER.pack(
            self.launch_script,
            self.magic,
            self.version,
            self.arch,
            self.id,
            self.created_at,
            self.modified_at,
            self.descriptors_free,
            self.descriptors_total,
            self.descriptors_offset,
            self.descriptors_size,
            self.data_offset,
            self.data_size,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "launch_script": cstr(self.launch_script),
            "version": cstr(self.version),
            "arch": go_arch(self.arch),
            "id": str(uuid.UUID(bytes=self.id)),
            "created": iso_time(self.created_at),
            "modified": iso_time(self.modified_at),
            "descriptors_free": self.descriptors_free,
            "descriptors_total": self.descriptors_total,
            "descriptors_offset": self.descriptors_offset,
            "descriptors_size": self.descriptors_size,
            "data_offset": self.data_offset,
            "data_size": self.data_size,
        }


@dataclass(frozen=True, slots=True)
class SifDescriptor:
    data_type: int
    used: bool
    id: int
    raw_group: int
    raw_link: int
    offset: int
    size: int
    size_with_padding: int
    created_at: int
    modified_at: int
    uid: int
    gid: int
    name_raw: bytes
    extra: bytes

    @classmethod
    def parse(cls, raw: bytes) -> SifDescriptor:
        return cls(*DESCRIPTOR.unpack(raw))

    def pack(self) -> bytes:
        return DESCRIPTOR.pack(
            self.data_type,
            self.used,
            self.id,
            self.raw_group,
            self.raw_link,
            self.offset,
            self.size,
            self.size_with_padding,
            self.created_at,
            self.modified_at,
            self.uid,
            self.gid,
            self.name_raw,
            self.extra,
        )

    @property
    def type_name(self) -> str:
        return DATA_TYPE_NAMES.get(self.data_type, "Unknown")

    @property
    def group(self) -> int | None:
        """Object group id; None when the object is in no group (siftool: NONE)."""
        g = self.raw_group & ~GROUP_MASK
        return g or None

    @property
    def link(self) -> tuple[int, bool] | None:
        """(id, is_group) of the linked object or group; None when unlinked."""
        lid = self.raw_link & ~GROUP_MASK
        if lid == 0:
            return None
        return lid, (self.raw_link & GROUP_MASK) == GROUP_MASK

    @property
    def name(self) -> str:
        return cstr(self.name_raw)

    def int32(self, index: int) -> int:
        value: int = struct.unpack_from("<i", self.extra, 4 * index)[0]
        return value

    # Partition extra: Fstype int32, Parttype int32, Arch [3]byte.
    @property
    def fs_type(self) -> int:
        return self.int32(0)

    @property
    def part_type(self) -> int:
        return self.int32(1)

    @property
    def part_arch(self) -> str:
        return go_arch(self.extra[8:11])

    def signature(self) -> tuple[str | None, str | None]:
        """(hash name, entity fingerprint as upper hex or None) of a Signature object."""
        fp = self.extra[4:24]
        entity = fp.hex().upper() if any(fp) else None
        return HASH_NAMES.get(self.int32(0)), entity

    def type_label(self) -> str:
        """The TYPE column of `siftool list`."""
        t = self.type_name
        if self.data_type == PARTITION:
            fs = FS_NAMES.get(self.fs_type, "Unknown")
            part = PART_NAMES.get(self.part_type, "Unknown")
            return f"{t} ({fs}/{part}/{self.part_arch})"
        if self.data_type == SIGNATURE:
            ht, _ = self.signature()
            # siftool prints nothing for an unknown hash; the bare type is more useful here.
            return f"{t} ({ht})" if ht else t
        if self.data_type == CRYPTO_MESSAGE:
            fmt = FORMAT_NAMES.get(self.int32(0), "Unknown")
            msg = MESSAGE_NAMES.get(self.int32(1), "Unknown")
            return f"{t} ({fmt}/{msg})"
        if self.data_type == SBOM:
            return f"{t} ({SBOM_NAMES.get(self.int32(0), 'unknown')})"
        return t

    def link_text(self) -> str:
        """LINK as siftool prints it, without the column padding: NONE, "1 (G)", "2"."""
        link = self.link
        if link is None:
            return "NONE"
        return f"{link[0]} (G)" if link[1] else str(link[0])

    def to_json(self) -> dict[str, Any]:
        link = self.link
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type_name,
            "type_label": self.type_label(),
            "used": self.used,
            "group": self.group,
            "link": self.link_text(),
            "linked_id": link[0] if link else None,
            "linked_is_group": link[1] if link else False,
            "start": self.offset,
            "end": self.offset + self.size,
            "offset": self.offset,
            "size": self.size,
            "size_with_padding": self.size_with_padding,
            "name": self.name,
            "created": iso_time(self.created_at),
            "modified": iso_time(self.modified_at),
            "uid": self.uid,
            "gid": self.gid,
        }
        if self.data_type == PARTITION:
            out["fs"] = FS_NAMES.get(self.fs_type, "Unknown")
            out["part"] = PART_NAMES.get(self.part_type, "Unknown")
            out["arch"] = self.part_arch
            out["encrypted"] = self.fs_type in ENCRYPTED_FS
        elif self.data_type == SIGNATURE:
            out["hash"], out["entity"] = self.signature()
        elif self.data_type == CRYPTO_MESSAGE:
            out["format"] = FORMAT_NAMES.get(self.int32(0), "Unknown")
            out["message"] = MESSAGE_NAMES.get(self.int32(1), "Unknown")
        elif self.data_type == SBOM:
            out["sbom_format"] = SBOM_NAMES.get(self.int32(0), "unknown")
        elif self.data_type in (OCI_ROOT_INDEX, OCI_BLOB):
            out["digest"] = cstr(self.extra)
        return out
