"""conda: `PREFIX/conda-meta/NAME-VERSION-BUILD.json`, one per package of the environment
at PREFIX (`/opt/conda`, `/opt/conda/envs/NAME`).

A record's `files` lists its paths relative to the prefix; `paths_data.paths` adds each
one's `sha256` (of the file as packaged) and, when conda rewrote the file at install time
(a `prefix_placeholder`), `sha256_in_prefix` (of the file as installed, newer conda). A
rewritten file with no `sha256_in_prefix` has no digest to compare.
"""

from __future__ import annotations

import json
from typing import Any

from layerscope.model.packages.records import Db, FileRecord, Package, hex_digest, join


def record_name(path: str, text: str | None) -> tuple[str, str] | None:
    """(name, version): the JSON's when readable, else from NAME-VERSION-BUILD.json."""
    data = _load(text)
    if data is not None and "name" in data and "version" in data:
        return str(data["name"]), str(data["version"])
    parts = path.rsplit("/", 1)[-1].removesuffix(".json").rsplit("-", 2)
    return (parts[0], parts[1]) if len(parts) == 3 else None


def _load(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def environment(meta_path: str) -> str:
    """The prefix of the environment a conda-meta/*.json belongs to."""
    meta_dir = meta_path.rpartition("/")[0]
    return meta_dir.rpartition("/")[0] or "/"


def meta_db(meta_path: str, text: str | None) -> Db:
    db = Db()
    got = record_name(meta_path, text)
    if got is None:
        return db
    prefix = environment(meta_path)
    pkg = Package("conda", prefix, *got)
    db.packages.append(pkg)
    data = _load(text) or {}
    paths = data.get("paths_data", {})
    entries = paths.get("paths") if isinstance(paths, dict) else None
    if isinstance(entries, list):
        for item in entries:
            if isinstance(item, dict) and isinstance(item.get("_path"), str):
                _add(db, pkg, prefix, item)
    files = data.get("files")
    if isinstance(files, list):
        for rel in files:
            path = join(prefix, rel) if isinstance(rel, str) else None
            if path is not None and path not in db.files:
                db.add(path, FileRecord(pkg, None, None))
    return db


def _add(db: Db, pkg: Package, prefix: str, item: dict[str, Any]) -> None:
    path = join(prefix, item["_path"])
    if path is None:
        return
    digest = item.get("sha256_in_prefix")
    if digest is None and not item.get("prefix_placeholder"):
        digest = item.get("sha256")
    got = hex_digest(digest, "sha256") if isinstance(digest, str) else None
    db.add(path, FileRecord(pkg, *got) if got else FileRecord(pkg, None, None))
