"""Seeds of the `elf` fuzz target: real ELF files (fixtures/elf/) with where their
metadata lives, found with pyelftools: the ELF header, the program and section header
tables, the notes, the symbol version tables and the string tables they point into."""

from __future__ import annotations

import functools
import struct

from elftools.elf.elffile import ELFFile

from tests.conftest import FIXTURES
from tests.fuzz.seeds import Seed, Span

ELF = FIXTURES / "elf"
SEEDS = ("program-v3", "libseed.so.1.0", "hello-arm64")
WANTED = {"SHT_NOTE", "SHT_GNU_verneed", "SHT_GNU_verdef", "SHT_STRTAB", "SHT_DYNAMIC"}
# (offset, width) of the ELF64 header's integers that locate and size everything else
HEADER64 = [(16, 2), (18, 2), (24, 8), (32, 8), (40, 8), (52, 2), (54, 2), (56, 2),
            (58, 2), (60, 2), (62, 2)]  # fmt: skip


def _seed(name: str) -> Seed:
    path = ELF / name
    data = path.read_bytes()
    regions: list[Span] = [(0, 64)]
    fields: list[Span] = list(HEADER64)
    with open(path, "rb") as f:
        elf = ELFFile(f)
        phoff, phsize = elf["e_phoff"], elf["e_phentsize"]
        shoff, shsize = elf["e_shoff"], elf["e_shentsize"]
        regions.append((phoff, phoff + phsize * elf.num_segments()))
        regions.append((shoff, shoff + shsize * elf.num_sections()))
        for i in range(elf.num_sections()):
            sh = elf._get_section_header(i)
            at = shoff + i * shsize
            fields += [(at + 4, 4), (at + 24, 8), (at + 32, 8), (at + 40, 4), (at + 44, 4)]
            if sh["sh_type"] in WANTED:
                start = sh["sh_offset"]
                regions.append((start, start + min(sh["sh_size"], 4096)))
                if sh["sh_type"] == "SHT_NOTE":  # n_namesz, n_descsz, n_type of the first
                    fields += [(start, 4), (start + 4, 4), (start + 8, 4)]
                if sh["sh_type"] in ("SHT_GNU_verneed", "SHT_GNU_verdef"):
                    fields += [(start + k, 4) for k in range(0, 16, 4)]
    assert struct.unpack_from("<H", data, 18)[0] in (62, 183)  # x86-64 or aarch64
    return Seed(name, data, tuple(regions), tuple(fields))


@functools.cache
def elf_seeds() -> tuple[Seed, ...]:
    return tuple(_seed(n) for n in SEEDS)
