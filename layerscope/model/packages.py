"""Package databases inside an image: dpkg, apk, Python dist-info/egg-info, conda-meta.

Pure parsing: the caller hands in file contents and paths; nothing here reads the image."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

DPKG_STATUS = "/var/lib/dpkg/status"
APK_INSTALLED = "/lib/apk/db/installed"
MAX_DB_BYTES = 64 << 20

Packages = dict[str, dict[str, str]]  # manager -> {name: version}

_DIST_INFO = re.compile(r"^(?P<name>[^/]+?)-(?P<version>[^-/]+?)(?:-py[\d.]+)?\.(?:dist|egg)-info$")


def parse_dpkg_status(text: str) -> dict[str, str]:
    """Installed packages only (Status ends with "installed"); arch-qualified as dpkg does."""
    out: dict[str, str] = {}
    for para in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in para.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        name = fields.get("package")
        if not name or not fields.get("status", "installed").endswith(" installed"):
            continue
        out[name] = fields.get("version", "")
    return out


def parse_apk_installed(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    name = version = None
    for line in [*text.splitlines(), ""]:
        if not line:
            if name:
                out[name] = version or ""
            name = version = None
        elif line.startswith("P:"):
            name = line[2:]
        elif line.startswith("V:"):
            version = line[2:]
    return out


def python_dist(path: str) -> tuple[str, str] | None:
    """'/usr/lib/python3/dist-packages/requests-2.31.0.dist-info' -> ('requests', '2.31.0')."""
    m = _DIST_INFO.match(path.rsplit("/", 1)[-1])
    if m is None:
        return None
    return m["name"].replace("_", "-").lower(), m["version"]


def conda_record(path: str, text: str | None) -> tuple[str, str] | None:
    """conda-meta/NAME-VERSION-BUILD.json; the JSON's name/version win when readable."""
    base = path.rsplit("/", 1)[-1].removesuffix(".json")
    if text:
        try:
            data: Any = json.loads(text)
            if isinstance(data, dict) and "name" in data and "version" in data:
                return str(data["name"]), str(data["version"])
        except ValueError:
            pass
    parts = base.rsplit("-", 2)
    return (parts[0], parts[1]) if len(parts) == 3 else None


def collect(paths: Iterable[str], read: Callable[[str], str | None]) -> Packages:
    """Scan an image's paths for package databases; `read` returns a small file's text."""
    out: Packages = {}
    for path in paths:
        if path == DPKG_STATUS:
            text = read(path)
            if text is not None:
                out["dpkg"] = parse_dpkg_status(text)
        elif path == APK_INSTALLED:
            text = read(path)
            if text is not None:
                out["apk"] = parse_apk_installed(text)
        elif path.endswith((".dist-info", ".egg-info")):
            dist = python_dist(path)
            if dist:
                out.setdefault("python", {})[dist[0]] = dist[1]
        elif "/conda-meta/" in path and path.endswith(".json"):
            rec = conda_record(path, read(path))
            if rec:
                out.setdefault("conda", {})[rec[0]] = rec[1]
    return out


def packages_diff(a: Packages, b: Packages) -> dict[str, Any]:
    """Per manager: added, removed and version-changed packages (empty dict if none)."""
    out: dict[str, Any] = {}
    for manager in sorted(a.keys() | b.keys()):
        pa, pb = a.get(manager, {}), b.get(manager, {})
        added = {n: pb[n] for n in sorted(pb.keys() - pa.keys())}
        removed = {n: pa[n] for n in sorted(pa.keys() - pb.keys())}
        changed = {
            n: {"old": pa[n], "new": pb[n]} for n in sorted(pa.keys() & pb.keys()) if pa[n] != pb[n]
        }
        if added or removed or changed:
            out[manager] = {"added": added, "removed": removed, "changed": changed}
    return out
