"""ELF machines as the architecture names images declare (OCI/Go: amd64, arm64...), the
distributions' ISA baselines, and glibc-hwcaps directories."""

from __future__ import annotations

import re

__all__ = ["arch_name", "distro_baseline", "hwcaps_level", "is_loader", "normalize_arch"]

# (e_machine, class) -> GOARCH; endianness picks between the pairs below
_ARCH = {
    ("EM_X86_64", 64): "amd64",
    ("EM_X86_64", 32): "amd64p32",  # x32
    ("EM_386", 32): "386",
    ("EM_AARCH64", 64): "arm64",
    ("EM_ARM", 32): "arm",
    ("EM_S390", 64): "s390x",
    ("EM_S390", 32): "s390",
    ("EM_RISCV", 64): "riscv64",
    ("EM_RISCV", 32): "riscv32",
    ("EM_LOONGARCH", 64): "loong64",
    ("EM_SPARCV9", 64): "sparc64",
    ("EM_IA_64", 64): "ia64",
}
_ENDIAN = {
    ("EM_PPC64", 64): ("ppc64le", "ppc64"),
    ("EM_PPC", 32): ("ppcle", "ppc"),
    ("EM_MIPS", 64): ("mips64le", "mips64"),
    ("EM_MIPS", 32): ("mipsle", "mips"),
}
# what images and `uname -m` call the same architectures
_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "armhf": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64el": "ppc64le",
}


def arch_name(machine: str, bits: int, little: bool) -> str:
    """`EM_X86_64`, 64 -> amd64; an unknown machine keeps its own name (`em_avr`)."""
    pair = _ENDIAN.get((machine, bits))
    if pair is not None:
        return pair[0] if little else pair[1]
    return _ARCH.get((machine, bits), machine.lower())


def normalize_arch(name: str) -> str:
    low = name.strip().lower()
    return _ALIASES.get(low, low)


# Dynamic loaders by file name (glibc's ld-linux*, musl's ld-musl-*, ld64.so.N on
# POWER and s390x).
_LOADER = re.compile(
    r"^(?:ld-linux[\w.-]*\.so\.\d+|ld-musl-[\w.-]+\.so\.1|ld64\.so\.\d+|ld\.so\.1)$"
)


def is_loader(name: str) -> bool:
    return _LOADER.match(name) is not None


# Distributions built for a higher level than x86-64's baseline (their release notes).
_BASELINES: dict[tuple[str, str], int] = {
    ("rhel", "9"): 2,
    ("centos", "9"): 2,
    ("rocky", "9"): 2,
    ("almalinux", "9"): 2,
    ("ol", "9"): 2,
    ("rhel", "10"): 3,
    ("centos", "10"): 3,
    ("rocky", "10"): 3,
    ("almalinux", "10"): 3,
    ("ol", "10"): 3,
}


def distro_baseline(os_release: dict[str, str]) -> int:
    """The x86-64 level a distribution's own packages are built for (1 unless known)."""
    distro = os_release.get("ID", "").lower()
    major = os_release.get("VERSION_ID", "").split(".")[0]
    return _BASELINES.get((distro, major), 1)


_HWCAPS = re.compile(r"/glibc-hwcaps/x86-64-v(\d)/")


def hwcaps_level(path: str) -> int | None:
    """The level of a glibc-hwcaps variant directory a path lies in (None: not one).
    glibc loads such a copy only on CPUs of that level: it is optional, not a need."""
    m = _HWCAPS.search(path)
    if m is not None:
        return int(m.group(1))
    return 0 if "/glibc-hwcaps/" in path else None


def parse_os_release(text: str) -> dict[str, str]:
    """/etc/os-release as a dict (quotes removed)."""
    out: dict[str, str] = {}
    for line in text.splitlines()[:200]:
        key, sep, value = line.strip().partition("=")
        if sep and key.isidentifier():
            out[key] = value.strip().strip("\"'")[:200]
    return out
