"""Talk to one repository of one registry: manifests and blobs over plain `requests`.

One attempt per request (a tool that must fail fast does not retry for minutes), the
bounds of transfer.py on every request and body, 401 challenges answered as token.py
decides (Basic for Docker Distribution's htpasswd, the Bearer token dance for the rest),
and every failure a one-line RegistryError that names the registry and never a
credential. With --tls-verify=false the scheme is probed once: HTTPS without
verification if it answers, plain HTTP otherwise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import requests

from layerscope import limits
from layerscope.errors import RegistryError
from layerscope.readers.registry.auth import Credentials
from layerscope.readers.registry.ref import RegistryRef
from layerscope.readers.registry.token import basic_header, fetch_token, parse_challenge
from layerscope.readers.registry.transfer import Http, Reply, describe_exception

# (connect, read) seconds; the read timeout bounds each socket read and the wait for a
# response head; transfer.py bounds whole requests (registry_deadline, registry_min_rate).
TIMEOUT: tuple[float, float] = (10.0, 60.0)
ERROR_BODY_CAP = 65536

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)


class RegistryClient:
    """Manifests and blobs of the repository `ref` names. Warnings (credentials sent to
    another host) are appended to `warnings`."""

    def __init__(
        self,
        ref: RegistryRef,
        *,
        tls_verify: bool = True,
        credentials: Credentials | None = None,
        timeout: tuple[float, float] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.ref = ref
        self.tls_verify = tls_verify
        self.credentials = credentials
        self.warnings = warnings if warnings is not None else []
        self.http = Http(f"registry {ref.host}: ", tls_verify, timeout or TIMEOUT)
        self._scheme: str | None = "https" if tls_verify else None
        self._auth: str | None = None  # the Authorization header that last worked

    def close(self) -> None:
        self.http.close()

    def _fail(self, what: str) -> RegistryError:
        return RegistryError(f"registry {self.ref.host}: {what}")

    def _url(self, kind: str, reference: str) -> str:
        scheme = self._scheme or self._pick_scheme()
        return f"{scheme}://{self.ref.host}/v2/{self.ref.repository}/{kind}/{reference}"

    def _send(self, method: str, url: str, headers: dict[str, str], label: str) -> Reply:
        """Send with the current credentials; on a 401, answer its challenge and retry once."""
        sent = dict(headers)
        if self._auth is not None:
            sent["Authorization"] = self._auth
        reply = self.http.send(method, url, sent, label)
        if reply.status != 401:
            return reply
        try:
            answer = self._answer(reply.headers.get("WWW-Authenticate", ""))
        except BaseException:
            reply.close()
            raise
        if answer is None or answer == self._auth:
            return reply
        reply.close()
        self._auth = answer
        return self.http.send(method, url, {**sent, "Authorization": answer}, label)

    def _answer(self, header: str) -> str | None:
        """The Authorization header that answers a challenge, or None (stay with the 401)."""
        challenge = parse_challenge(header)
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return basic_header(self.credentials) if self.credentials is not None else None
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            return None
        token = fetch_token(
            self.http,
            challenge,
            self.credentials,
            self.ref.host,
            self._scheme or "https",
            self.ref.repository,
            self.warnings,
        )
        return f"Bearer {token}" if token is not None else None

    def _pick_scheme(self) -> str:
        """--tls-verify=false: HTTPS without verification if it answers, else plain HTTP."""
        try:
            self.http.send("GET", f"https://{self.ref.host}/v2/", {}, "", verify=False).close()
            scheme = "https"
        except RegistryError as e:
            cause = e.__cause__
            if isinstance(cause, requests.exceptions.SSLError):
                scheme = "http"
            elif isinstance(cause, requests.exceptions.ConnectionError):
                reason = describe_exception(cause, False)
                if reason in ("unknown host", "connection refused"):
                    raise
                scheme = "http"  # e.g. a plain-HTTP server hanging up on a TLS hello
            else:
                raise
        self._scheme = scheme
        return scheme

    def _check(self, reply: Reply, what: str, blob: bool = False) -> None:
        code = reply.status
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
            error = _error_code(reply)
            noun = "repository unknown" if error == "NAME_UNKNOWN" else "manifest unknown"
            raise self._fail(f"{noun}: {what}")
        if code == 429:
            raise self._fail(f"too many requests (rate limited) for {what}")
        raise self._fail(f"HTTP {code} {reply.reason}".rstrip() + f" for {what}")

    def head_manifest(self, reference: str) -> tuple[str | None, str]:
        """(Docker-Content-Digest or None, Content-Type) of a tag or digest, no body."""
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        with self._send("HEAD", self._url("manifests", reference), headers, "") as reply:
            self._check(reply, self._name(reference))
            digest = reply.headers.get("Docker-Content-Digest")
            return digest, _media_type(reply)

    def get_manifest(self, reference: str) -> tuple[bytes, str]:
        """The manifest's bytes (at most limits.max_json_bytes) and its Content-Type."""
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        name = self._name(reference)
        cap = limits.get("max_json_bytes")

        def too_big() -> Exception:
            return limits.exceeded(
                f"registry {self.ref.host}: manifest of {name} larger than {cap} bytes",
                "max_json_bytes",
            )

        label = f"download of {name}"
        with self._send("GET", self._url("manifests", reference), headers, label) as reply:
            self._check(reply, name)
            return reply.read_all(cap, too_big), _media_type(reply)

    def fetch_blob(self, digest: str, size: int, sink: Callable[[bytes], None]) -> None:
        """Stream blob `digest` into sink, never more than its declared `size` (the caller
        verifies the digest)."""
        what = f"{self.ref.repository}@{digest}"

        def too_big() -> Exception:
            return self._fail(
                f"blob {digest}: server sent more than the {size} bytes its descriptor declares"
            )

        url = self._url("blobs", digest)
        with self._send("GET", url, {}, f"download of {what}") as reply:
            self._check(reply, what, blob=True)
            length = reply.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > size:
                raise too_big()
            for chunk in reply.chunks(size, too_big):
                sink(chunk)

    def _name(self, reference: str) -> str:
        sep = "@" if reference.startswith("sha256:") else ":"
        return f"{self.ref.repository}{sep}{reference}"


def _media_type(reply: Reply) -> str:
    return str(reply.headers.get("Content-Type", "")).split(";", 1)[0].strip()


def _error_code(reply: Reply) -> str | None:
    """'MANIFEST_UNKNOWN', 'NAME_UNKNOWN'... from a Distribution error body (GET only)."""
    head = bytearray()
    try:
        # Only the head of the body: an error page may be arbitrarily large.
        for chunk in reply.chunks(1 << 62, AssertionError):
            head += chunk
            if len(head) >= ERROR_BODY_CAP:
                break
        errors = json.loads(head[:ERROR_BODY_CAP]).get("errors") or []
        code = errors[0].get("code") if errors else None
    except (ValueError, AttributeError, TypeError, IndexError, RecursionError, RegistryError):
        return None
    return code if isinstance(code, str) else None


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
