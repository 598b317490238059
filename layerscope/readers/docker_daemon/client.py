"""The Docker Engine API over `$DOCKER_HOST` (unix://, tcp://, with TLS when
DOCKER_TLS_VERIFY is set) or /var/run/docker.sock, with the standard library's HTTP client.

Two requests are made: `GET /images/{name}/json` (what the image is: its ID) and
`GET /images/{name}/get` (the `docker save` stream). Neither pulls: a daemon answers about
the images it holds. Podman's `podman system service` serves the same API.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from layerscope.errors import NotFoundError, RegistryError, UsageError

DEFAULT_HOST = "unix:///var/run/docker.sock"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 300.0  # a daemon may take a while to start a large `save` stream
MAX_JSON = 4 << 20


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=CONNECT_TIMEOUT)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(READ_TIMEOUT)
        self.sock = sock


class NoDaemon(RegistryError):
    """Nothing listens where the daemon should be (exit 4 when the daemon was named)."""


class NoSuchImage(RegistryError):
    """The daemon answered: it holds no such image (exit 4 when the daemon was named)."""


class DaemonClient:
    def __init__(self, host: str | None = None) -> None:
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        parts = urlsplit(self.host)
        self.scheme = parts.scheme
        if parts.scheme == "unix":
            self.address = parts.path
        elif parts.scheme == "tcp":
            self.address = parts.netloc
        else:
            raise UsageError(
                f"DOCKER_HOST={self.host}: only unix:// and tcp:// daemons are supported"
            )

    def _connection(self) -> http.client.HTTPConnection:
        if self.scheme == "unix":
            return _UnixConnection(self.address)
        if os.environ.get("DOCKER_TLS_VERIFY"):
            certs = Path(os.environ.get("DOCKER_CERT_PATH") or Path.home() / ".docker")
            ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
            ctx.load_cert_chain(str(certs / "cert.pem"), str(certs / "key.pem"))
            return http.client.HTTPSConnection(self.address, timeout=READ_TIMEOUT, context=ctx)
        return http.client.HTTPConnection(self.address, timeout=READ_TIMEOUT)

    def get(self, path: str) -> http.client.HTTPResponse:
        """A GET whose 200 response is returned unread; the caller closes it."""
        conn = self._connection()
        try:
            conn.request("GET", path, headers={"Host": "docker"})
            resp = conn.getresponse()
        except FileNotFoundError:
            conn.close()
            raise NoDaemon(f"docker-daemon: no daemon at {self.host}") from None
        except ConnectionRefusedError:
            conn.close()
            raise NoDaemon(f"docker-daemon: no daemon listens at {self.host}") from None
        except (OSError, http.client.HTTPException, ssl.SSLError) as e:
            conn.close()
            why = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise RegistryError(f"docker-daemon: cannot talk to {self.host}: {why}") from None
        if resp.status != 200:
            message = _message(resp)
            conn.close()
            if resp.status == 404:
                raise NoSuchImage(f"docker-daemon: {message} (at {self.host})")
            raise RegistryError(f"docker-daemon: {self.host} answered {resp.status}: {message}")
        return resp

    def image_json(self, name: str) -> dict[str, Any]:
        resp = self.get(f"/images/{image_path(name)}/json")
        try:
            data = resp.read(MAX_JSON + 1)
        except (OSError, http.client.HTTPException) as e:
            raise RegistryError(f"docker-daemon: reading from {self.host} failed: {e}") from None
        finally:
            resp.close()
        try:
            doc = json.loads(data) if len(data) <= MAX_JSON else None
        except (ValueError, RecursionError):
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("Id"), str):
            raise RegistryError(f"docker-daemon: {self.host} sent no image description")
        return doc


def image_path(name: str) -> str:
    """The name as the API's path segment: slashes and colons are part of it there."""
    return quote(name, safe="/:@")


def _message(resp: http.client.HTTPResponse) -> str:
    try:
        body = resp.read(MAX_JSON)
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            return str(doc["message"]).strip().splitlines()[0] if doc["message"] else "error"
        return body.decode("utf-8", "replace").strip()[:200] or resp.reason
    except (OSError, ValueError, RecursionError, http.client.HTTPException):
        return resp.reason or f"status {resp.status}"


def not_found(e: RegistryError) -> NotFoundError:
    """How a bare-name lookup reports a daemon that is absent or lacks the image."""
    return NotFoundError(str(e))
