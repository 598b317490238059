"""dpkg: `/var/lib/dpkg/status` (or distroless' `status.d/`), `info/PKG[:ARCH].list` and
`info/PKG[:ARCH].md5sums`.

A package's files are its `.list` lines; their md5 digests come from `.md5sums` (paths
relative to `/`) and, for configuration files, from the status file's `Conffiles:` field
(dpkg keeps no conffile in `.md5sums`). Directories are listed in `.list` too: they are
no file record (a caller looks records up by the paths of regular files).
"""

from __future__ import annotations

from dataclasses import dataclass

from layerscope.model.packages.records import SYSTEM, Db, FileRecord, Package, hex_digest

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d"  # distroless: one status paragraph file per package
INFO = "/var/lib/dpkg/info"


@dataclass(slots=True, frozen=True)
class Stanza:
    name: str
    arch: str
    version: str
    installed: bool
    conffiles: dict[str, str]  # path -> md5 hex (or "newconffile"/"obsolete" markers)


def parse_status(text: str) -> list[Stanza]:
    """Every paragraph of a status file, with its conffiles."""
    out: list[Stanza] = []
    for para in text.split("\n\n"):
        fields: dict[str, str] = {}
        current = None
        for line in para.splitlines():
            if line[:1] in (" ", "\t"):
                if current is not None:
                    fields[current] += "\n" + line.strip()
                continue
            key, sep, value = line.partition(":")
            if not sep:
                continue
            current = key.strip().lower()
            fields[current] = value.strip()
        name = fields.get("package")
        if not name:
            continue
        # distroless status.d files carry no Status: the package is installed
        installed = fields.get("status", "install ok installed").endswith(" installed")
        conf: dict[str, str] = {}
        for line in fields.get("conffiles", "").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].startswith("/"):
                conf[parts[0]] = parts[1]
        arch = fields.get("architecture", "")
        out.append(Stanza(name, arch, fields.get("version", ""), installed, conf))
    return out


def installed_versions(text: str) -> dict[str, str]:
    """Installed packages only (Status ends with "installed"): name -> version."""
    return {s.name: s.version for s in parse_status(text) if s.installed}


def info_stem(stanza: Stanza, multi_arch: set[str]) -> str:
    """The file name stem dpkg gives the package's info files: `PKG:ARCH` for packages
    of `Multi-Arch: same` (found as such files), else `PKG`."""
    qualified = f"{stanza.name}:{stanza.arch}"
    return qualified if qualified in multi_arch else stanza.name


def parse_md5sums(text: str) -> dict[str, str]:
    """`.md5sums` lines `HEX  relative/path` -> {"/relative/path": HEX}."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, rel = line.partition("  ")
        rel = rel.strip() if rel else ""
        if digest and rel:
            out["/" + rel.lstrip("/")] = digest.strip()
    return out


def package_db(stanzas: list[Stanza], lists: dict[str, str], md5sums: dict[str, str]) -> Db:
    """A Db from status paragraphs and the info files' texts, keyed by info stem
    (`bash`, `libc6:amd64`)."""
    db = Db()
    stems = set(lists) | set(md5sums)
    for s in stanzas:
        if not s.installed:
            continue
        pkg = Package("dpkg", SYSTEM, s.name, s.version)
        db.packages.append(pkg)
        stem = info_stem(s, stems)
        sums = parse_md5sums(md5sums.get(stem, ""))
        for path, hexd in {**sums, **s.conffiles}.items():
            got = hex_digest(hexd, "md5")
            rec = FileRecord(pkg, *got) if got else FileRecord(pkg, None, None)
            db.add(path, FileRecord(rec.package, rec.algo, rec.digest, path in s.conffiles))
        for line in lists.get(stem, "").splitlines():
            path = line.strip()
            if path.startswith("/") and path != "/." and path not in db.files:
                db.add(path, FileRecord(pkg, None, None))
    return db
