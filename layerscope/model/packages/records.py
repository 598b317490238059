"""What a package database says: packages (by manager and environment) and, per file, the
package that installed it with the digest it recorded.

Every parser of this package returns a `Db`; `merge` joins them. Paths are absolute and as
the database wrote them (`/bin/bash` on a merged-/usr system where the file lives at
`/usr/bin/bash`): resolving them through the image's symlinks is the engine's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM = "/"  # the environment of dpkg, apk and rpm: the image's own system
# the managers, in the order a file claimed by several is attributed (the system's first:
# a Python or conda record of a file dpkg installed is the lesser claim)
MANAGERS = ("dpkg", "apk", "rpm", "conda", "python")
# digest algorithms the databases record, as hashlib names them
ALGOS = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512"})
# A package database file is read whole; real ones are at most tens of MB (a Fedora
# rpmdb.sqlite with 2,000 packages is ~60 MB). Bigger files are not read.
MAX_DB_BYTES = 256 << 20
# All database files of one image together (dpkg's info/ of a big image is ~30 MB): what is
# read is held in memory at once, so a crafted image cannot make it unbounded.
MAX_DB_TOTAL = 1 << 30


@dataclass(frozen=True, slots=True)
class Package:
    manager: str  # dpkg, apk, rpm, python, conda
    env: str  # SYSTEM, or the prefix of a Python or conda environment ("/opt/venv")
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One file as its package recorded it."""

    package: Package
    algo: str | None  # a hashlib name (ALGOS); None: no digest recorded
    digest: bytes | None  # raw bytes of the recorded digest
    config: bool = False  # a configuration file: local edits are expected (dpkg conffiles)


@dataclass(slots=True)
class Db:
    packages: list[Package] = field(default_factory=list)
    files: dict[str, FileRecord] = field(default_factory=dict)  # absolute path -> record
    problems: list[str] = field(default_factory=list)  # unreadable parts, for notes

    def add(self, path: str, record: FileRecord) -> None:
        """The first claim on a path wins (setdefault): parsers add in priority order."""
        self.files.setdefault(path, record)


def merge(dbs: list[Db]) -> Db:
    """One Db from several, files claimed in MANAGERS order (dpkg before python...)."""
    rank = {m: i for i, m in enumerate(MANAGERS)}
    out = Db()
    for db in dbs:
        out.packages.extend(db.packages)
        out.problems.extend(db.problems)
    claims = sorted(
        ((rank.get(rec.package.manager, len(rank)), path, rec)
         for db in dbs for path, rec in db.files.items()),
        key=lambda c: c[0],
    )  # fmt: skip
    for _, path, rec in claims:
        out.add(path, rec)
    out.packages.sort(key=lambda p: (rank.get(p.manager, len(rank)), p.env, p.name, p.version))
    return out


def hex_digest(text: str, algo: str) -> tuple[str, bytes] | None:
    """(algo, raw) from a hex digest of the right length for `algo`; None if it is not."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    sizes = {"md5": 16, "sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}
    return (algo, raw) if sizes.get(algo) == len(raw) else None


def join(base: str, rel: str) -> str | None:
    """`rel` (may hold `..`) under the absolute directory `base`, normalised; None if it
    climbs above `/`."""
    parts: list[str] = [p for p in base.split("/") if p]
    for part in rel.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)
