"""apk (Alpine): `/lib/apk/db/installed` (`/usr/lib/apk/db/installed` on newer releases).

One paragraph per package: `P:` name, `V:` version, then `F:` a directory (relative to
`/`) followed by its files, each an `R:` name with its `Z:` checksum: `Q1` + base64 SHA-1
(apk-tools 2), `Q2` + base64 SHA-256, or 32 hex digits (MD5, the oldest databases).
"""

from __future__ import annotations

import base64
import binascii

from layerscope.model.packages.records import SYSTEM, Db, FileRecord, Package, hex_digest

INSTALLED = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")


def checksum(text: str) -> tuple[str, bytes] | None:
    """(algo, raw digest) of an apk `Z:` value, or None if it is not one apk writes."""
    algo = {"Q1": "sha1", "Q2": "sha256"}.get(text[:2])
    if algo is None:
        return hex_digest(text, "md5") if len(text) == 32 else None
    try:
        raw = base64.b64decode(text[2:], validate=True)
    except (binascii.Error, ValueError):
        return None
    return (algo, raw) if len(raw) == (20 if algo == "sha1" else 32) else None


def installed_versions(text: str) -> dict[str, str]:
    return {p.name: p.version for p in parse_installed(text).packages}


def parse_installed(text: str) -> Db:
    db = Db()
    for para in text.split("\n\n"):
        name = version = None
        files: list[tuple[str, str | None]] = []  # (path, Z: value)
        directory = ""
        for line in para.splitlines():
            tag, sep, value = line.partition(":")
            if not sep or len(tag) != 1:
                continue
            if tag == "P":
                name = value
            elif tag == "V":
                version = value
            elif tag == "F":
                directory = value.strip("/")
            elif tag == "R" and value:
                files.append((f"/{directory}/{value}" if directory else f"/{value}", None))
            elif tag == "Z" and files and files[-1][1] is None:
                files[-1] = (files[-1][0], value)
        if not name:
            continue
        pkg = Package("apk", SYSTEM, name, version or "")
        db.packages.append(pkg)
        for path, z in files:
            got = checksum(z) if z else None
            db.add(path, FileRecord(pkg, *got) if got else FileRecord(pkg, None, None))
    return db
