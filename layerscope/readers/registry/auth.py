"""Find registry credentials the way skopeo and docker do, without ever showing them.

`REGISTRY_AUTH_FILE` (podman/skopeo) wins when set; otherwise `$DOCKER_CONFIG/config.json`
or `~/.docker/config.json`. An `auths` entry may hold base64 `auth` or `username` and
`password`; `credHelpers`/`credsStore` are run only if their `docker-credential-*` program
is installed, otherwise they are skipped with a warning.

Secrets stay inside `Credentials` (their repr hides the password) and never reach a message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerscope.errors import RegistryError
from layerscope.readers.registry.ref import RegistryRef

HELPER_TIMEOUT = 10.0
_MAX_CONFIG_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = ""


def auth_file() -> Path | None:
    """The credentials file in force, or None when there is none."""
    explicit = os.environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        return Path(explicit)
    config_dir = os.environ.get("DOCKER_CONFIG")
    path = Path(config_dir) / "config.json" if config_dir else Path.home() / ".docker/config.json"
    return path if path.is_file() else None


def find_credentials(ref: RegistryRef, warnings: list[str]) -> Credentials | None:
    """Credentials for ref's registry, or None for anonymous access.

    Problems that do not stop an anonymous pull (an unrunnable helper) become warnings;
    an unreadable or malformed file named by REGISTRY_AUTH_FILE is an error."""
    path = auth_file()
    if path is None:
        return None
    config = _load(path)
    auths = config.get("auths")
    if isinstance(auths, dict):
        for key in ref.auth_keys:
            entry = auths.get(key)
            if isinstance(entry, dict):
                creds = _from_entry(entry, path, key, warnings)
                if creds is not None:
                    return creds
    helpers = config.get("credHelpers")
    helper = helpers.get(_helper_key(ref)) if isinstance(helpers, dict) else None
    if not isinstance(helper, str):
        store = config.get("credsStore")
        helper = store if isinstance(store, str) and store else None
    if helper is not None:
        return _from_helper(helper, ref, warnings)
    return None


def _load(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            raw = f.read(_MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise RegistryError(f"{path}: cannot read credentials file: {e.strerror}") from None
    if len(raw) > _MAX_CONFIG_BYTES:
        raise RegistryError(f"{path}: credentials file larger than 4 MiB")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        # The decoder's message names a position, never the content around it.
        msg = e.msg if isinstance(e, json.JSONDecodeError) else "not UTF-8"
        raise RegistryError(f"{path}: invalid credentials file: {msg}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: invalid credentials file: not a JSON object")
    return data


def _from_entry(
    entry: dict[str, Any], path: Path, key: str, warnings: list[str]
) -> Credentials | None:
    source = f"{path} ({key})"
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user, sep, password = base64.b64decode(auth, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            warnings.append(f"{source}: 'auth' is not base64 of user:password; ignored")
            return None
        if not sep:
            warnings.append(f"{source}: 'auth' has no ':' between user and password; ignored")
            return None
        return Credentials(user, password, source)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str) and name:
        return Credentials(name, secret, source)
    if entry.get("identitytoken"):
        warnings.append(f"{source}: identity tokens are not supported; pulling anonymously")
    return None


def _helper_key(ref: RegistryRef) -> str:
    return "docker.io" if ref.host == "registry-1.docker.io" else ref.host


def _from_helper(helper: str, ref: RegistryRef, warnings: list[str]) -> Credentials | None:
    program = f"docker-credential-{helper}"
    exe = shutil.which(program)
    if exe is None:
        warnings.append(f"credential helper {program} is not installed; pulling anonymously")
        return None
    server = "https://index.docker.io/v1/" if ref.host == "registry-1.docker.io" else ref.host
    try:
        proc = subprocess.run(
            [exe, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        warnings.append(f"credential helper {program} did not answer; pulling anonymously")
        return None
    # Its stderr may echo secrets: report only the exit status.
    if proc.returncode != 0:
        warnings.append(f"credential helper {program} failed (exit {proc.returncode})")
        return None
    try:
        payload = json.loads(proc.stdout)
        user, secret = payload["Username"], payload["Secret"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        warnings.append(f"credential helper {program} gave an unreadable answer")
        return None
    if not isinstance(user, str) or not isinstance(secret, str) or user == "<token>":
        warnings.append(f"credential helper {program}: identity tokens are not supported")
        return None
    return Credentials(user, secret, program)
