"""Talk to one repository of one registry through oras, with timeouts and one-line errors.

oras' `Registry` brings the session (cookies ignored), the Bearer-token dance and the blob
URLs. Two of its habits do not fit a tool that must fail fast: `do_request` retries every
failure five times with sleeps of up to 83 s, and no request has a timeout. So this module
overrides `do_request`: one attempt, a timeout on every request, Basic challenges answered
too (Docker Distribution's htpasswd auth), and every failure turned into a RegistryError
whose text names the registry and never a credential.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Callable
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import oras.container
import oras.provider
import requests

from layerscope import limits
from layerscope.errors import RegistryError
from layerscope.readers.registry.auth import Credentials
from layerscope.readers.registry.ref import RegistryRef

# (connect, read) seconds; the read timeout bounds each socket read, not a whole blob.
TIMEOUT: tuple[float, float] = (10.0, 60.0)
CHUNK = 1 << 20

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)

# oras reports through its own logger; without a handler Python would print its warnings
# to stderr. Our callers get RegistryErrors instead.
logging.getLogger("oras.logger").addHandler(logging.NullHandler())


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class _Oras(oras.provider.Registry):  # type: ignore[misc]
    """oras' Registry with one attempt per request and Basic challenges answered."""

    def __init__(
        self, host: str, tls_verify: bool, creds: Credentials | None, timeout: tuple[float, float]
    ) -> None:
        super().__init__(hostname=host, insecure=False, tls_verify=tls_verify)
        session = _TimeoutSession(timeout)
        # As oras does: ignore cookies (some registries take them as a browser's).
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.session = session
        self.auth.session = session
        self.creds = creds
        self.basic_required = False
        if creds is not None:
            self.auth.set_basic_auth(creds.username, creds.password)

    def set_scheme(self, scheme: str) -> None:
        self.prefix = scheme
        self.auth.prefix = scheme

    def _basic_header(self) -> dict[str, str]:
        assert self.creds is not None
        pair = f"{self.creds.username}:{self.creds.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def do_request(
        self,
        url: str,
        method: str = "GET",
        data: Any = None,
        headers: dict[str, str] | None = None,
        json: Any = None,
        stream: bool = False,
    ) -> requests.Response:
        sent = dict(headers or {})
        if self.basic_required and self.creds is not None:
            sent.update(self._basic_header())
        else:
            sent.update(self.auth.get_auth_header())
        resp = self._send(method, url, sent, stream)
        if resp.status_code != 401:
            return resp
        scheme = resp.headers.get("WWW-Authenticate", "").split(" ", 1)[0].lower()
        if scheme == "basic" and self.creds is not None and not self.basic_required:
            self.basic_required = True
            resp.close()
            return self._send(method, url, {**sent, **self._basic_header()}, stream)
        if scheme == "bearer" and "realm=" in resp.headers.get("WWW-Authenticate", ""):
            had_token = sent.get("Authorization", "").startswith("Bearer ")
            try:
                retry, changed = self.auth.authenticate_request(resp, dict(sent), refresh=had_token)
            except (ValueError, TypeError, AttributeError, KeyError):
                # oras trips over odd token answers (JSON that is not an object...): the
                # request stays unauthenticated and is reported as a 401.
                return resp
            if changed:
                resp.close()
                return self._send(method, url, retry, stream)
        return resp

    def _send(
        self, method: str, url: str, headers: dict[str, str], stream: bool
    ) -> requests.Response:
        response: requests.Response = self.session.request(
            method, url, headers=headers, stream=stream, verify=self._tls_verify
        )
        return response


class RegistryClient:
    """Manifests and blobs of the repository `ref` names."""

    def __init__(
        self,
        ref: RegistryRef,
        *,
        tls_verify: bool = True,
        credentials: Credentials | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> None:
        self.ref = ref
        self.tls_verify = tls_verify
        self.credentials = credentials
        self._oras = _Oras(ref.host, tls_verify, credentials, timeout or TIMEOUT)
        self._container = _container(ref)
        self._scheme: str | None = None if not tls_verify else "https"
        if self._scheme:
            self._oras.set_scheme(self._scheme)

    def close(self) -> None:
        self._oras.session.close()

    def _fail(self, what: str) -> RegistryError:
        return RegistryError(f"registry {self.ref.host}: {what}")

    def _request(self, url_path: str, method: str, headers: dict[str, str], stream: bool) -> Any:
        scheme = self._scheme or self._pick_scheme()
        try:
            return self._oras.do_request(
                f"{scheme}://{url_path}", method, headers=headers, stream=stream
            )
        except requests.exceptions.RequestException as e:
            raise self._fail(_describe_exception(e, self.tls_verify)) from e

    def _pick_scheme(self) -> str:
        """--tls-verify=false: HTTPS without verification if it answers, else plain HTTP."""
        url = f"https://{self.ref.host}/v2/"
        try:
            self._oras.session.request("GET", url, verify=False).close()
            scheme = "https"
        except requests.exceptions.SSLError:
            scheme = "http"
        except requests.exceptions.ConnectionError as e:
            reason = _describe_exception(e, False)
            if reason in ("unknown host", "connection refused"):
                raise self._fail(reason) from e
            scheme = "http"  # e.g. a plain-HTTP server hanging up on a TLS hello
        except requests.exceptions.RequestException as e:
            raise self._fail(_describe_exception(e, False)) from e
        self._scheme = scheme
        self._oras.set_scheme(scheme)
        return scheme

    def _check(self, resp: requests.Response, what: str, blob: bool = False) -> None:
        code = resp.status_code
        if 200 <= code < 300:
            return
        if code == 401:
            if self.credentials is None:
                raise self._fail(f"authentication required for {what}")
            raise self._fail(
                f"authentication failed for {what}: credentials from "
                f"{self.credentials.source} were rejected"
            )
        if code == 403:
            raise self._fail(f"access denied to {what}")
        if code == 404:
            if blob:
                raise self._fail(f"blob unknown: {what}")
            error = _error_code(resp)
            noun = "repository unknown" if error == "NAME_UNKNOWN" else "manifest unknown"
            raise self._fail(f"{noun}: {what}")
        if code == 429:
            raise self._fail(f"too many requests (rate limited) for {what}")
        raise self._fail(f"HTTP {code} {resp.reason or ''}".rstrip() + f" for {what}")

    def head_manifest(self, reference: str) -> tuple[str | None, str]:
        """(Docker-Content-Digest or None, Content-Type) of a tag or digest, no body."""
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        resp = self._request(self._container.manifest_url(reference), "HEAD", headers, False)
        with resp:
            self._check(resp, self._name(reference))
            digest = resp.headers.get("Docker-Content-Digest")
            return digest, _media_type(resp)

    def get_manifest(self, reference: str) -> tuple[bytes, str]:
        """The manifest's bytes (at most limits.max_json_bytes) and its Content-Type."""
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        resp = self._request(self._container.manifest_url(reference), "GET", headers, True)
        with resp:
            self._check(resp, self._name(reference))
            body = bytearray()
            cap = limits.get("max_json_bytes")
            for chunk in self._iter(resp, reference):
                body += chunk
                if len(body) > cap:
                    raise limits.exceeded(
                        f"registry {self.ref.host}: manifest of {self._name(reference)} "
                        f"larger than {cap} bytes",
                        "max_json_bytes",
                    )
            return bytes(body), _media_type(resp)

    def fetch_blob(self, digest: str, sink: Callable[[bytes], None]) -> None:
        """Stream blob `digest` into sink, chunk by chunk (the caller verifies it)."""
        what = f"{self.ref.repository}@{digest}"
        if self._scheme is None:
            self._pick_scheme()
        try:
            resp = self._oras.get_blob(self._container, digest, stream=True)
        except requests.exceptions.RequestException as e:
            raise self._fail(_describe_exception(e, self.tls_verify)) from e
        with resp:
            self._check(resp, what, blob=True)
            for chunk in self._iter(resp, what):
                sink(chunk)

    def _iter(self, resp: requests.Response, what: str) -> Any:
        try:
            yield from resp.iter_content(CHUNK)
        except requests.exceptions.RequestException as e:
            raise self._fail(
                f"download of {what} interrupted: {_describe_exception(e, self.tls_verify)}"
            ) from e

    def _name(self, reference: str) -> str:
        sep = "@" if reference.startswith("sha256:") else ":"
        return f"{self.ref.repository}{sep}{reference}"


def _container(ref: RegistryRef) -> oras.container.Container:
    # Set the fields directly: oras' own parser takes 'localhost' or a dotted first
    # repository component for a registry.
    c = oras.container.Container("x", registry=ref.host)
    namespace, _, repo = ref.repository.rpartition("/")
    c.namespace = namespace or None
    c.repository = repo
    c.tag = ref.tag or "latest"
    c.digest = ref.digest
    return c


def _media_type(resp: requests.Response) -> str:
    return resp.headers.get("Content-Type", "").split(";", 1)[0].strip()


def _error_code(resp: requests.Response) -> str | None:
    """'MANIFEST_UNKNOWN', 'NAME_UNKNOWN'... from a Distribution error body (GET only)."""
    try:
        # Read only the head of the body: an error page may be arbitrarily large.
        head = next(resp.iter_content(65536), b"")
        errors = json.loads(head).get("errors") or []
        code = errors[0].get("code") if errors else None
    except (ValueError, AttributeError, TypeError, requests.exceptions.RequestException):
        return None
    return code if isinstance(code, str) else None


def _describe_exception(e: requests.exceptions.RequestException, tls_verify: bool) -> str:
    text = str(e)
    if isinstance(e, requests.exceptions.SSLError):
        m = re.search(r"\[SSL: ([A-Z_]+)\]", text)
        reason = m.group(1).lower().replace("_", " ") if m else "handshake failed"
        hint = " (plain-HTTP registry? use --tls-verify=false)" if "version" in reason else ""
        return f"TLS failure: {reason}{hint}" if tls_verify else f"TLS failure: {reason}"
    if isinstance(e, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(e, requests.exceptions.ConnectionError):
        lowered = text.lower()
        if any(s in lowered for s in ("resolve", "resolution", "name or service", "getaddrinfo")):
            return "unknown host"
        if "refused" in lowered:
            return "connection refused"
        if "reset" in lowered or "aborted" in lowered:
            return "connection reset"
        return "cannot connect"
    return f"request failed ({type(e).__name__})"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
