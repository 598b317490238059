"""pyelftools' ELFFile, with its struct definitions built once per kind of file.

ELFFile builds ~20 construct definitions for every file it opens (~5 ms, a third of the
time an image's report spends per library); they depend only on the file's class, byte
order, type, machine and OS ABI, so files alike share them. Everything else is
pyelftools' own code; test_elf checks both give the same facts.
"""

from __future__ import annotations

import io
import threading
from typing import IO, Any

from elftools.elf.elffile import ELFFile
from elftools.elf.structs import ELFStructs

__all__ = ["open_elf"]

MAX_KINDS = 64  # hostile headers cannot grow the table past this
_structs: dict[tuple[Any, ...], ELFStructs] = {}
_lock = threading.Lock()


def _shared(key: tuple[Any, ...], make: Any) -> ELFStructs:
    with _lock:
        got = _structs.get(key)
    if got is None:
        got = make()
        with _lock:
            if len(_structs) < MAX_KINDS:
                _structs.setdefault(key, got)
    return got


class _SharedStructsELF(ELFFile):
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.stream.seek(0, io.SEEK_END)
        self.stream_len = self.stream.tell()
        self._identify_file()
        little, bits = self.little_endian, self.elfclass

        def basic() -> ELFStructs:
            s = ELFStructs(little_endian=little, elfclass=bits)
            s.create_basic_structs()
            return s

        self.structs = _shared(("basic", little, bits), basic)
        self.header = self._parse_elf_header()
        kind = (self["e_type"], self["e_machine"], self["e_ident"]["EI_OSABI"])

        def advanced() -> ELFStructs:
            s = ELFStructs(little_endian=little, elfclass=bits)
            s.create_basic_structs()
            s.create_advanced_structs(*kind)
            return s

        self.structs = _shared(("advanced", little, bits, *kind), advanced)
        self.stream.seek(0)
        self.e_ident_raw = self.stream.read(16)
        self.stream_loader = None


def open_elf(stream: IO[bytes]) -> ELFFile:
    """An ELFFile over `stream` (pyelftools' errors pass through)."""
    return _SharedStructsELF(stream)
