"""Where a containers/storage store is, found as podman and buildah find it.

Order (containers/storage types/options.go):
  1. an explicit root: `--storage-root DIR`, or skopeo's `[driver@root+runroot]` prefix;
  2. the storage.conf in `$CONTAINERS_STORAGE_CONF`; else, for a user other than root,
     `$XDG_CONFIG_HOME/containers/storage.conf` (default ~/.config/...); else the system's
     `/etc/containers/storage.conf` (or `/usr/share/containers/storage.conf`);
  3. its `graphroot` (root) or `rootless_storage_path` (other users; a user's own file's
     `graphroot` too); else the defaults `/var/lib/containers/storage` (root) and
     `$XDG_DATA_HOME/containers/storage` (default ~/.local/share/containers/storage).
`additionalimagestores` (read-only stores HPC sites share) are searched after the main one.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerscope.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SYSTEM_CONFS = ("/etc/containers/storage.conf", "/usr/share/containers/storage.conf")
ROOT_DEFAULT = "/var/lib/containers/storage"
DRIVERS = ("overlay", "vfs")  # the drivers whose layers are plain directories


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """One store: its root directory, the driver named for it (None: find out from the
    files), and where the setting came from (for messages)."""

    root: str
    driver: str | None = None
    origin: str = "default"
    additional: tuple[str, ...] = field(default=())


def parse_store_spec(rest: str) -> tuple[str | None, str | None, str]:
    """skopeo's `[driver@root+runroot]NAME` -> (driver, root, NAME); no brackets: (None,
    None, rest)."""
    if not rest.startswith("["):
        return None, None, rest
    close = rest.find("]")
    if close < 0:
        raise UsageError(f"containers-storage:{rest}: unterminated [driver@root+runroot]")
    spec, name = rest[1:close], rest[close + 1 :]
    driver, at, path = spec.partition("@")
    if not at:
        driver, path = "", spec
    root = path.partition("+")[0]
    if not root.startswith("/"):
        raise UsageError(f"containers-storage:{rest}: the store root must be an absolute path")
    return driver or None, root, name


def find_store(
    storage_root: str | None = None, driver: str | None = None, origin: str = "--storage-root"
) -> StoreLocation:
    """The store podman would use for this user (or the one named, `origin` saying where)."""
    if storage_root:
        return StoreLocation(os.path.abspath(storage_root), driver, origin)
    conf_path, conf = _storage_conf()
    storage = conf.get("storage") if isinstance(conf.get("storage"), dict) else {}
    assert isinstance(storage, dict)
    options = storage.get("options") if isinstance(storage.get("options"), dict) else {}
    assert isinstance(options, dict)
    extra = options.get("additionalimagestores")
    additional = tuple(p for p in extra if isinstance(p, str)) if isinstance(extra, list) else ()
    conf_driver = storage.get("driver") if isinstance(storage.get("driver"), str) else None
    root, origin = _graphroot(storage, conf_path)
    return StoreLocation(root, driver or conf_driver or None, origin, additional)


def _rootless() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() != 0


def _storage_conf() -> tuple[str | None, dict[str, Any]]:
    candidates = []
    env = os.environ.get("CONTAINERS_STORAGE_CONF")
    if env:
        candidates.append(env)
    elif _rootless():
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
        candidates.append(os.path.join(base, "containers", "storage.conf"))
    candidates.extend(SYSTEM_CONFS)
    for path in candidates:
        try:
            with open(path, "rb") as f:
                return path, tomllib.load(f)
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise UsageError(f"{path}: cannot read the storage configuration: {e}") from None
    return None, {}


def _graphroot(storage: dict[str, Any], conf_path: str | None) -> tuple[str, str]:
    user_conf = conf_path is not None and conf_path not in SYSTEM_CONFS
    if not _rootless() or user_conf:
        root = storage.get("graphroot")
        if isinstance(root, str) and root:
            return _expand(root), f"graphroot in {conf_path}"
    if not _rootless():
        return ROOT_DEFAULT, "the default for root"
    rootless = storage.get("rootless_storage_path")
    if isinstance(rootless, str) and rootless:
        return _expand(rootless), f"rootless_storage_path in {conf_path}"
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return os.path.join(base, "containers", "storage"), "the rootless default"


def _expand(path: str) -> str:
    """$HOME, $UID and $USER as containers/storage expands them in storage.conf paths."""
    uid = str(os.geteuid()) if hasattr(os, "geteuid") else ""
    path = path.replace("$UID", uid).replace("${UID}", uid)
    return os.path.expanduser(os.path.expandvars(path))
