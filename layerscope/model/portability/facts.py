"""What the portability report knows of one file: plain records, cached by content.

msgspec Structs, so the engine stores them in the index cache as they are and a report
on an image seen before reads no file again.
"""

from __future__ import annotations

import msgspec

__all__ = ["DecodedFacts", "ElfFacts", "FileFacts"]


class DecodedFacts(msgspec.Struct, frozen=True):
    """The instructions of a file's executable sections, decoded."""

    features: tuple[str, ...]  # CPUID features used (iced-x86 names), sorted
    dispatch: bool  # tests the CPU at run time (cpuid/xgetbv, ifuncs, libgcc's cpu model)
    code_bytes: int
    samples: dict[str, str] = {}  # feature -> an instruction using it
    partial: bool = False  # some executable bytes lay outside what was read


class ElfFacts(msgspec.Struct, frozen=True, omit_defaults=True):
    machine: str  # e_machine as pyelftools names it ("EM_X86_64")
    bits: int  # 32 or 64
    little: bool = True
    kind: str = "other"  # exec, pie, shared, object, core, other
    interp: str | None = None  # PT_INTERP: the dynamic loader it asks for
    soname: str | None = None  # a versioned library's own name (its verdef base)
    dynamic: bool = False  # has a dynamic segment (else: static)
    isa_needed: int = 0  # GNU_PROPERTY_X86_ISA_1_NEEDED bits (1 baseline, 2 v2, 4 v3, 8 v4)
    abi_tag: tuple[int, int, int] | None = None  # NT_GNU_ABI_TAG: oldest Linux kernel
    version_needs: dict[str, tuple[str, ...]] = {}  # library -> symbol versions needed
    version_defs: tuple[str, ...] = ()  # symbol versions the file defines
    dispatch_symbols: tuple[str, ...] = ()  # ifuncs, CPU-model symbols it imports
    strings: dict[str, str] = {}  # version strings found: what -> version
    decoded: DecodedFacts | None = None
    partial: bool = False  # larger than the window: some parts could not be read
    problems: tuple[str, ...] = ()  # what could not be read, one line each


class FileFacts(msgspec.Struct, frozen=True, omit_defaults=True):
    """A regular file's content: its digest (xxh3-128), size and, for ELF, its facts.
    `digests` holds the digests a package database may compare with (md5, sha256...)."""

    digest: bytes
    size: int
    elf: ElfFacts | None = None
    digests: dict[str, bytes] = {}
    scanned: tuple[str, ...] = ()  # the version-string scans that were run


ENCODER = msgspec.msgpack.Encoder()
LAYER_DECODER = msgspec.msgpack.Decoder(dict[int, FileFacts])
