"""Python distributions: `NAME-VERSION.dist-info` (and `.egg-info`) directories in a
site-packages or dist-packages directory, and the `RECORD` files of dist-info.

Packages are keyed by environment, the prefix their site directory belongs to
(`/usr` for Debian's `/usr/lib/python3/dist-packages`, `/opt/venv` for a venv's
`/opt/venv/lib/python3.12/site-packages`), so a venv's `packaging` is not hidden by the
system's. RECORD lines are `path,sha256=<urlsafe base64, unpadded>,size`, paths relative
to the site directory (`../../../bin/pip` for scripts).
"""

from __future__ import annotations

import base64
import binascii
import csv
import re

from layerscope.model.packages.records import ALGOS, Db, FileRecord, Package, join

_DIST_INFO = re.compile(r"^(?P<name>[^/]+?)-(?P<version>[^-/]+?)(?:-py[\d.]+)?\.(?:dist|egg)-info$")
_SITE = re.compile(r"^(?P<prefix>.*?)/[Ll]ib(?:64)?/python[\d.]*/(?:site|dist)-packages$")
SITE_DIRS = frozenset({"site-packages", "dist-packages"})


def dist_name(path: str) -> tuple[str, str] | None:
    """'/usr/lib/python3/dist-packages/requests-2.31.0.dist-info' -> ('requests', '2.31.0');
    names normalised as pip compares them (PEP 503: lowercase, runs of -_. as -)."""
    m = _DIST_INFO.match(path.rsplit("/", 1)[-1])
    if m is None:
        return None
    return re.sub(r"[-_.]+", "-", m["name"]).lower(), m["version"]


def environment(site_dir: str) -> str:
    """The environment a site directory belongs to: its prefix (`/usr`, `/opt/venv`), or
    the directory itself when it is laid out some other way."""
    m = _SITE.match(site_dir)
    if m is None:
        return site_dir
    return m["prefix"] or "/"


def record_digest(text: str) -> tuple[str, bytes] | None:
    """`sha256=<urlsafe base64>` -> ("sha256", raw); None for an empty or odd field."""
    algo, sep, value = text.partition("=")
    if not sep or algo not in ALGOS:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return (algo, raw) if raw else None


def dist_db(dist_dir: str, record_text: str | None) -> Db:
    """The package of one dist-info/egg-info directory and the files its RECORD names."""
    db = Db()
    got = dist_name(dist_dir)
    if got is None:
        return db
    site = dist_dir.rpartition("/")[0] or "/"
    pkg = Package("python", environment(site), got[0], got[1])
    db.packages.append(pkg)
    if record_text is None:
        return db
    try:
        rows = list(csv.reader(record_text.splitlines()))
    except csv.Error as e:
        db.problems.append(f"{dist_dir}/RECORD: {e}")
        return db
    for row in rows:
        if not row or not row[0]:
            continue
        path = join(site, row[0]) if not row[0].startswith("/") else join("/", row[0])
        if path is None:
            continue
        digest = record_digest(row[1]) if len(row) > 1 else None
        db.add(path, FileRecord(pkg, *digest) if digest else FileRecord(pkg, None, None))
    return db
