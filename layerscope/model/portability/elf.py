"""The facts of one ELF file, read with pyelftools from a Window of its bytes.

Every part is read on its own: a hostile section table, a truncated note or a version
chain that loops costs that part (a line in `problems`), never the rest and never a
crash. Iterations over counts the file states are capped, so a crafted count cannot make
a loop run for hours.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO, Any, cast

from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection
from elftools.elf.sections import NoteSection
from elftools.elf.segments import InterpSegment, NoteSegment

from layerscope.model.portability.decode import decode
from layerscope.model.portability.elffile import open_elf
from layerscope.model.portability.facts import DecodedFacts, ElfFacts
from layerscope.model.portability.versions import scan_strings
from layerscope.model.portability.window import OutsideWindow, Window, WindowFile

__all__ = ["ELF_MAGIC", "read_elf"]

ELF_MAGIC = b"\x7fELF"
# What is looked at per file, at most: real programs and libraries have tens of sections
# and segments, a few dozen version needs; a crafted chain that loops (vna_next = 0)
# stops here, each item costing pyelftools ~0.1 ms.
MAX_SECTIONS = 4096
MAX_SEGMENTS = 512
MAX_NOTES = 256
MAX_VERSIONS = 1024  # version entries per section, and auxiliaries per entry
HEADER_SIZES = {32: (32, 40), 64: (56, 64)}  # class -> (e_phentsize, e_shentsize)
_KINDS = {"ET_EXEC": "exec", "ET_REL": "object", "ET_CORE": "core"}
_ISA_NEEDED = ("GNU_PROPERTY_X86_ISA_1_NEEDED", 0xC0008002)
# What code that picks an implementation by CPU calls (libgcc's __builtin_cpu_supports,
# glibc's <sys/platform/x86.h>, Intel's compilers' -ax dispatch); the code itself
# executing cpuid or xgetbv says the same.
CPU_PROBES = frozenset(
    {
        "__cpu_model",
        "__cpu_indicator_init",
        "__cpu_features2",
        "__get_cpu_features",
        "__x86_get_cpu_features",
        "__x86_get_cpuid_feature_leaf",
        "__intel_cpu_feature_indicator",
        "__intel_cpu_features_init",
    }
)


class _Parts:
    """What has been read so far, and what could not be."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.problems: list[str] = []
        self.partial = False
        self.code: list[tuple[int, int]] = []  # (offset, size) of executable sections
        self.loads: list[tuple[int, int]] = []  # the same for executable segments

    @contextlib.contextmanager
    def part(self, what: str) -> Iterator[None]:
        try:
            yield
        except OutsideWindow:
            self.partial = True
            self.problems.append(f"{what}: not read (the file is larger than the window)")
        except Exception as e:  # pyelftools raises many kinds on hostile input
            self.problems.append(f"{what}: {_why(e)}")


def _why(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}"[:200] if text else type(e).__name__


def read_elf(window: Window, want_decode: bool, scans: Iterable[str] = ()) -> ElfFacts | None:
    """The facts of an ELF file (None if `window` does not start like one). With
    `want_decode`, an x86-64 file's executable sections are decoded too."""
    if not window.head.startswith(ELF_MAGIC):
        return None
    parts = _Parts()
    try:
        # a whole file is read through BytesIO (C), a part of one through WindowFile
        stream = io.BytesIO(window.head) if window.whole else WindowFile(window)
        elf = open_elf(cast(IO[bytes], stream))
        header = elf.header
        machine, bits = str(header["e_machine"]), int(elf.elfclass)
        little = bool(elf.little_endian)
    except Exception as e:  # not even a header: the file is named as unreadable
        return ElfFacts(machine="?", bits=0, problems=(f"not a readable ELF file: {_why(e)}",))
    with parts.part("program headers"):
        _segments(elf, parts)
    with parts.part("section headers"):
        _sections(elf, parts)
    kind = _KINDS.get(str(header["e_type"]), "other")
    if header["e_type"] == "ET_DYN":
        interp, soname = parts.fields.get("interp"), parts.fields.get("soname")
        kind = "pie" if interp and not soname else "shared"
    strings = scan_strings(scans, window)
    decoded = None
    # A property note naming more than the baseline was put there on purpose and is
    # the answer; one naming only the baseline (glibc's crt files) says nothing.
    noted = parts.fields.get("isa_needed", 0) & ~1
    if want_decode and machine == "EM_X86_64" and bits == 64 and not noted:
        with parts.part("instructions"):
            decoded = _decode(window, parts)
    return ElfFacts(
        machine=machine,
        bits=bits,
        little=little,
        kind=kind,
        strings=strings,
        decoded=decoded,
        partial=parts.partial,
        problems=tuple(dict.fromkeys(parts.problems)),  # a table checked twice says so once
        **parts.fields,
    )


def _segments(elf: ELFFile, parts: _Parts) -> None:
    # Headers first, objects only for what is read: pyelftools' segment and section
    # objects cost. Without section headers (stripped by sstrip, or damaged), notes are
    # read through the program headers instead. The dynamic table is not read at all:
    # walking its tags through pyelftools cost more than the rest of a file together, and
    # the one thing wanted from it, a versioned library's soname, is its verdef's base.
    no_sections = elf.num_sections() == 0 or not _sane(elf, "section", parts)
    if not _sane(elf, "program", parts):
        return
    for i in range(min(elf.num_segments(), MAX_SEGMENTS)):
        header = elf._get_segment_header(i)
        ptype = header["p_type"]
        if ptype == "PT_LOAD" and header["p_flags"] & 1:  # PF_X
            parts.loads.append((int(header["p_offset"]), int(header["p_filesz"])))
        elif ptype == "PT_DYNAMIC":
            parts.fields["dynamic"] = True
        if ptype == "PT_INTERP" or (no_sections and ptype == "PT_NOTE"):
            seg = elf._make_segment(header)
            with parts.part(str(ptype)):
                if isinstance(seg, InterpSegment):
                    parts.fields["interp"] = str(seg.get_interp_name())
                elif isinstance(seg, NoteSegment):
                    _notes(seg.iter_notes(), parts)


_READ_SECTIONS = frozenset({"SHT_NOTE", "SHT_GNU_verneed", "SHT_GNU_verdef"})


def _sane(elf: ELFFile, which: str, parts: _Parts) -> bool:
    """Whether the header table's entry size is the ELF standard's (a size of 0 would read
    one header as thousands)."""
    want = HEADER_SIZES[elf.elfclass][which == "section"]
    got = elf["e_shentsize" if which == "section" else "e_phentsize"]
    count = elf.num_sections() if which == "section" else elf.num_segments()
    if count and got != want:
        parts.problems.append(f"{which} headers: entries of {got} bytes, not {want}")
        return False
    return True


def _sections(elf: ELFFile, parts: _Parts) -> None:
    count = elf.num_sections()
    if count and not _sane(elf, "section", parts):
        return
    if count > MAX_SECTIONS:
        parts.problems.append(f"section headers: {count} sections, only {MAX_SECTIONS} read")
    for i in range(min(count, MAX_SECTIONS)):
        header = elf._get_section_header(i)
        stype = header["sh_type"]
        if stype == "SHT_PROGBITS" and header["sh_flags"] & 0x4:  # SHF_EXECINSTR
            parts.code.append((int(header["sh_offset"]), int(header["sh_size"])))
        if stype not in _READ_SECTIONS:
            continue
        section = elf._make_section(header)
        if isinstance(section, NoteSection):
            with parts.part("notes"):
                _notes(section.iter_notes(), parts)
        elif isinstance(section, GNUVerNeedSection):
            with parts.part("symbol versions needed"):
                _verneed(section, parts)
        elif isinstance(section, GNUVerDefSection):
            with parts.part("symbol versions defined"):
                _verdef(section, parts)


def _notes(notes: Iterable[Any], parts: _Parts) -> None:
    for note in islice(notes, MAX_NOTES):
        ntype = note["n_type"]
        if ntype == "NT_GNU_ABI_TAG":
            desc = note["n_desc"]
            if desc["abi_os"] == "ELF_NOTE_OS_LINUX":
                tag = (int(desc["abi_major"]), int(desc["abi_minor"]), int(desc["abi_tiny"]))
                parts.fields["abi_tag"] = tag
        elif ntype == "NT_GNU_PROPERTY_TYPE_0":
            for prop in islice(note["n_desc"], MAX_NOTES):
                if prop["pr_type"] in _ISA_NEEDED and isinstance(prop["pr_data"], int):
                    parts.fields["isa_needed"] = parts.fields.get("isa_needed", 0) | prop["pr_data"]


def _verneed(section: Any, parts: _Parts) -> None:
    needs: dict[str, list[str]] = {}
    left = MAX_VERSIONS  # entries and auxiliaries together: a looping chain stops here
    for verneed, auxes in islice(section.iter_versions(), MAX_VERSIONS):
        names = needs.setdefault(str(verneed.name), [])
        for aux in auxes:
            left -= 1
            if left < 0:
                break
            names.append(str(aux.name))
        if left < 0:
            parts.problems.append(f"symbol versions needed: more than {MAX_VERSIONS} read")
            break
    parts.fields["version_needs"] = {k: tuple(dict.fromkeys(v)) for k, v in needs.items()}


def _verdef(section: Any, parts: _Parts) -> None:
    defs: list[str] = []
    for verdef, auxes in islice(section.iter_versions(), MAX_VERSIONS):
        first = next(iter(auxes), None)  # a definition's name; the rest are its parents
        if first is None:
            continue
        if verdef["vd_flags"] & 0x1:  # VER_FLG_BASE: the file's own name (its soname)
            parts.fields["soname"] = str(first.name)
        else:
            defs.append(str(first.name))
    parts.fields["version_defs"] = tuple(dict.fromkeys(defs))


def _probes(window: Window) -> list[str]:
    """The CPU-probing symbols the file names in any string table (imported or, in a
    static binary, its own): a byte search, where walking the symbol tables with
    pyelftools costs a second on a library like libc."""
    held = [data for _, data in window.kept()]
    return sorted(n for n in CPU_PROBES if any(b"\0" + n.encode() + b"\0" in d for d in held))


def _decode(window: Window, parts: _Parts) -> DecodedFacts | None:
    ranges = parts.code or parts.loads
    if not ranges:
        return None  # no code found: the level stays unknown rather than "baseline"
    chunks: list[bytes] = []
    partial = False
    for offset, size in ranges:
        try:
            chunks.append(window.slice(offset, offset + size))
        except OutsideWindow:
            partial = True
    got = decode(chunks)
    probes = _probes(window)
    parts.fields["dispatch_symbols"] = tuple(probes)
    return DecodedFacts(
        features=tuple(sorted(got.features)),
        dispatch=got.dispatch or bool(probes),
        code_bytes=got.code_bytes,
        samples=dict(sorted(got.samples.items())),
        partial=partial,
    )
