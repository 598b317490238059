"""Package databases inside an image: what each package manager installed, and per file
the package that installed it with the digest it recorded.

Pure parsing: the engine (`layerscope.engine.owners`, `engine.compare`) finds the database
files in an image's tree (`wanted`, `dist_dirs`), reads them, and hands their contents to
`build`. One module per manager:

  dpkg     /var/lib/dpkg/status (or status.d/), info/*.list, info/*.md5sums (md5)
  apk      /lib/apk/db/installed (sha1)
  rpm      rpmdb.sqlite (sha256 or md5, from each header)
  python   dist-info / egg-info directories, RECORD (sha256), keyed by environment
  conda    PREFIX/conda-meta/*.json (sha256), keyed by environment
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from layerscope.model.packages import apk, conda, dpkg, python, rpm
from layerscope.model.packages.records import (
    MANAGERS,
    MAX_DB_BYTES,
    MAX_DB_TOTAL,
    SYSTEM,
    Db,
    FileRecord,
    Package,
    merge,
)

__all__ = [
    "FILES",
    "MANAGERS",
    "MAX_DB_BYTES",
    "MAX_DB_TOTAL",
    "NAMES",
    "SYSTEM",
    "Db",
    "FileRecord",
    "Package",
    "Versions",
    "build",
    "kind_of",
    "packages_diff",
    "versions",
]

# Versions only (what a diff needs) or every file too (what owners need)
NAMES, FILES = "names", "files"


def kind_of(path: str, depth: str = FILES) -> str | None:
    """Which database file `path` is, if `build` wants its contents at `depth` (NAMES:
    the package lists only; FILES: the file lists and digests too), else None."""
    if path == dpkg.STATUS:
        return "dpkg-status"
    parent, _, name = path.rpartition("/")
    if parent == dpkg.STATUS_D:
        if name.endswith(".md5sums"):
            return "dpkg-md5sums" if depth == FILES else None
        return "dpkg-status"
    if parent == dpkg.INFO and depth == FILES and name.endswith((".list", ".md5sums")):
        return "dpkg-list" if name.endswith(".list") else "dpkg-md5sums"
    if path in apk.INSTALLED:
        return "apk"
    if path in rpm.DATABASES:
        return "rpm"
    if parent.endswith("/conda-meta") and name.endswith(".json"):
        return "conda"
    if name == "RECORD" and parent.endswith(".dist-info") and depth == FILES:
        return "python-record"
    return None


def build(files: Mapping[str, bytes], dist_dirs: Iterable[str] = ()) -> Db:
    """Every database in `files` (path -> contents, as `kind_of` picked them) and the
    Python distributions `dist_dirs` (dist-info/egg-info directory paths) in one Db."""
    by_kind: dict[str, dict[str, bytes]] = {}
    for path, data in files.items():
        kind = kind_of(path)
        if kind is not None:
            by_kind.setdefault(kind, {})[path] = data
    dbs = [_dpkg(by_kind)]
    dbs += [apk.parse_installed(_text(d)) for d in by_kind.get("apk", {}).values()]
    dbs += [rpm.parse_sqlite(d) for d in by_kind.get("rpm", {}).values()]
    dbs += [conda.meta_db(p, _text(d)) for p, d in sorted(by_kind.get("conda", {}).items())]
    records = by_kind.get("python-record", {})
    for d in sorted(set(dist_dirs)):
        record = records.get(f"{d}/RECORD")
        dbs.append(python.dist_db(d, None if record is None else _text(record)))
    return merge(dbs)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _stem(path: str, suffix: str) -> str:
    return path.rpartition("/")[2].removesuffix(suffix)


def _dpkg(by_kind: dict[str, dict[str, bytes]]) -> Db:
    status = by_kind.get("dpkg-status", {})
    if not status:
        return Db()
    stanzas = [s for _, data in sorted(status.items()) for s in dpkg.parse_status(_text(data))]
    lists = {_stem(p, ".list"): _text(d) for p, d in by_kind.get("dpkg-list", {}).items()}
    sums = {_stem(p, ".md5sums"): _text(d) for p, d in by_kind.get("dpkg-md5sums", {}).items()}
    return dpkg.package_db(stanzas, lists, sums)


Versions = dict[tuple[str, str], dict[str, str]]  # (manager, environment) -> {name: version}


def versions(db: Db) -> Versions:
    out: Versions = {}
    for p in db.packages:
        out.setdefault((p.manager, p.env), {})[p.name] = p.version
    return out


def packages_diff(a: Versions, b: Versions) -> list[dict[str, Any]]:
    """Per manager and environment: added, removed and version-changed packages (only
    those with a difference), in MANAGERS order, then by environment."""
    rank = {m: i for i, m in enumerate(MANAGERS)}
    out: list[dict[str, Any]] = []
    for key in sorted(a.keys() | b.keys(), key=lambda k: (rank.get(k[0], len(rank)), k)):
        pa, pb = a.get(key, {}), b.get(key, {})
        added = {n: pb[n] for n in sorted(pb.keys() - pa.keys())}
        removed = {n: pa[n] for n in sorted(pa.keys() - pb.keys())}
        changed = {
            n: {"old": pa[n], "new": pb[n]} for n in sorted(pa.keys() & pb.keys()) if pa[n] != pb[n]
        }
        if added or removed or changed:
            manager, env = key
            out.append({"manager": manager, "environment": env, "added": added,
                        "removed": removed, "changed": changed})  # fmt: skip
    return out
