"""Answer a registry's 401: Basic credentials, or the Bearer token dance of the Docker
token spec (GET realm?service=..&scope=.. with the credentials as Basic, a JSON answer
holding `token` or `access_token`).

Where the credentials may go is decided here, before any is sent:
- a Bearer realm must be an absolute http(s) URL; with TLS verification on it must be
  HTTPS, or the pull stops (the password would cross the network in clear text, to a
  host the registry named);
- a realm on another host than the registry gets the credentials only with a warning
  (ImageMeta.warnings), except Docker Hub's own token service for Docker Hub. An
  anonymous token request carries no secret and is not warned about.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from requests.utils import parse_dict_header

from layerscope import limits
from layerscope.errors import RegistryError
from layerscope.readers.registry.auth import Credentials
from layerscope.readers.registry.transfer import Http

# Token services known to belong to the registry that names them.
KNOWN_TOKEN_HOSTS = {"registry-1.docker.io": {"auth.docker.io:443"}}
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lowercased: "basic", "bearer"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="https://h/token",service="h",scope="repository:r:pull"` -> Challenge."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    try:
        raw = parse_dict_header(rest)  # type: ignore[no-untyped-call]
    except ValueError:
        raw = {}
    params = {k.lower(): v for k, v in raw.items() if isinstance(v, str)}
    return Challenge(scheme.lower(), params)


def basic_header(creds: Credentials) -> str:
    pair = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _netloc(scheme: str, host: str, port: int | None) -> str:
    return f"{host.lower()}:{port or _DEFAULT_PORTS.get(scheme, 0)}"


def check_realm(
    realm: str,
    registry: str,
    registry_scheme: str,
    tls_verify: bool,
    creds: Credentials | None,
    warnings: list[str],
) -> None:
    """Refuse a realm credentials must not go to; warn when they go to another host."""
    prefix = f"registry {registry}: "
    try:
        url = urlsplit(realm)
        port = url.port
        home = urlsplit(f"//{registry}")
        home_port = home.port
    except ValueError:
        raise RegistryError(prefix + "token realm is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise RegistryError(prefix + "token realm is not an absolute http(s) URL")
    where = f"{url.scheme}://{url.netloc.rpartition('@')[2]}"
    if tls_verify and url.scheme != "https":
        raise RegistryError(
            f"{prefix}refusing token realm {where}: plain HTTP while TLS is verified "
            "(credentials and tokens would travel in clear text)"
        )
    if creds is None:
        return
    there = _netloc(url.scheme, url.hostname, port)
    here = _netloc(registry_scheme, home.hostname or registry, home_port)
    if there != here and there not in KNOWN_TOKEN_HOSTS.get(registry, set()):
        note = f"{prefix}sending credentials from {creds.source} to {where}, another host"
        if note not in warnings:
            warnings.append(note)


def fetch_token(
    http: Http,
    challenge: Challenge,
    creds: Credentials | None,
    registry: str,
    registry_scheme: str,
    repository: str,
    warnings: list[str],
) -> str | None:
    """A token for the challenge, or None when the token service says no (the caller
    then reports the registry's 401)."""
    realm = challenge.params.get("realm", "")
    check_realm(realm, registry, registry_scheme, http.tls_verify, creds, warnings)
    params = {"scope": challenge.params.get("scope") or f"repository:{repository}:pull"}
    if "service" in challenge.params:
        params["service"] = challenge.params["service"]
    headers = {"Authorization": basic_header(creds)} if creds is not None else {}
    cap = limits.get("max_json_bytes")

    def too_big() -> Exception:
        return limits.exceeded(
            f"{http.prefix}token answer larger than {cap} bytes", "max_json_bytes"
        )

    with http.send("GET", realm, headers, "token request", params=params) as reply:
        if reply.status != 200:
            return None
        body = reply.read_all(cap, too_big)
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
    # It goes into a header: anything but visible ASCII would be refused there, or worse.
    if not isinstance(token, str) or not token.isascii() or not token.isprintable():
        return None
    return token if token and " " not in token else None
