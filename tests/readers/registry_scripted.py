"""A scripted registry on 127.0.0.1 for what a real one will not do on demand: drip bytes,
never finish, name a token realm on another host or over plain HTTP, serve a crafted
manifest. The blobs are the real ones of fixtures/oci/app-layout (skopeo-built); only the
manifest is made by the test, because a crafted manifest is the attack.

    reg = ScriptedRegistry(tls=cert_pair)        # or plain HTTP
    reg.manifest("1.0", {...})                   # tag -> manifest document
    reg.blob_behaviour[digest] = drip(20.0)      # how one blob is answered
    reg.challenge = 'Bearer realm="http://..."'  # demand a token first
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import ssl
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES, require_tool

APP = FIXTURES / "oci" / "app-layout"
USERNAME, PASSWORD = "alice", "hostile-test-pw-5c2e"
TOKEN = "scripted-token-91ab"

Behaviour = Callable[["ScriptedRegistry", Any, bytes], None]


def app_manifest(tag: str = "1.0") -> dict[str, Any]:
    """The app layout's manifest for `tag`, as a document the test may alter."""
    index = json.loads((APP / "index.json").read_text())
    for m in index["manifests"]:
        if m["annotations"]["org.opencontainers.image.ref.name"] == tag:
            doc: dict[str, Any] = json.loads(blob_bytes(m["digest"]))
            return doc
    raise KeyError(tag)


def blob_bytes(digest: str) -> bytes:
    return (APP / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def make_cert(workdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (openssl)."""
    openssl = require_tool("openssl")
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class ScriptedRegistry:
    """Distribution API answers from Python, one thread per connection."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.manifests: dict[str, bytes] = {}
        self.blob_behaviour: dict[str, Behaviour] = {}
        self.token_behaviour: Behaviour | None = None
        self.challenge: str | None = None
        self.requests: list[tuple[str, str, str]] = []  # method, path, Authorization
        self.stop = threading.Event()
        reg = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # drips go out byte by byte, not batched

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                reg.handle(self)

            do_HEAD = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()  # wakes every drip
        self.server.shutdown()
        self.server.server_close()

    def manifest(self, tag: str, doc: dict[str, Any]) -> str:
        data = json.dumps(doc).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.manifests[tag] = self.manifests[digest] = data
        return digest

    def handle(self, h: Any) -> None:
        self.requests.append((h.command, h.path, h.headers.get("Authorization", "")))
        if h.path.startswith("/token"):
            return self._token(h)
        if self.challenge and h.headers.get("Authorization") != f"Bearer {TOKEN}":
            return send(h, 401, b"{}", {"WWW-Authenticate": self.challenge})
        parts = h.path.split("?")[0].split("/")  # ['', 'v2', ns, repo, kind, ref]
        if h.path == "/v2/":
            return send(h, 200, b"{}")
        if len(parts) != 6:
            return send(h, 404, b"{}")
        kind, ref = parts[4], parts[5]
        if kind == "manifests" and ref in self.manifests:
            data = self.manifests[ref]
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            media = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
            return send(h, 200, data, {"Docker-Content-Digest": digest, **media})
        if kind == "blobs" and ref in self.blob_behaviour:
            return self.blob_behaviour[ref](self, h, blob_bytes(ref))
        if kind == "blobs" and (APP / "blobs" / "sha256" / ref.removeprefix("sha256:")).is_file():
            return send(h, 200, blob_bytes(ref))
        send(h, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

    def _token(self, h: Any) -> None:
        if self.token_behaviour is not None:
            return self.token_behaviour(self, h, b"")
        want = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        if h.headers.get("Authorization") != f"Basic {want}":
            return send(h, 401, b"{}")
        send(h, 200, json.dumps({"token": TOKEN}).encode())


def send(h: Any, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    h.send_response(code)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


# --- behaviours ------------------------------------------------------------------------


def drip(interval: float) -> Behaviour:
    """Headers at once (the true length), then one byte every `interval` seconds."""

    def run(reg: ScriptedRegistry, h: Any, data: bytes) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        for byte in data:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            if reg.stop.wait(interval):
                return

    return run


def drip_head(interval: float) -> Behaviour:
    """The status line and headers themselves, one byte every `interval` seconds."""

    def run(reg: ScriptedRegistry, h: Any, data: bytes) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        for byte in head:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            if reg.stop.wait(interval):
                return

    return run


def endless(chunk: int = 65536, pause: float = 0.0, length: int | None = None) -> Behaviour:
    """Zeros for ever (until the client goes), with a Content-Length header if given."""

    def run(reg: ScriptedRegistry, h: Any, data: bytes) -> None:
        h.send_response(200)
        if length is not None:
            h.send_header("Content-Length", str(length))
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        block = b"\0" * chunk
        try:
            while not reg.stop.is_set():
                h.wfile.write(block)
                h.wfile.flush()
                if pause and reg.stop.wait(pause):
                    return
        except OSError:
            return

    return run


class Canary:
    """A plain-HTTP server that only records who called it (a realm that must not be)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        canary = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                canary.calls.append((self.path, self.headers.get("Authorization", "")))
                send(self, 200, json.dumps({"token": TOKEN}).encode())

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def auth_file(workdir: Path, address: str) -> dict[str, str]:
    """REGISTRY_AUTH_FILE holding the scripted account for `address`."""
    path = workdir / "auth.json"
    login = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    path.write_text(json.dumps({"auths": {address: {"auth": login}}}))
    return {"REGISTRY_AUTH_FILE": str(path)}


def copy_cert_env(cert: Path) -> dict[str, str]:
    """Make requests (in a layerscope subprocess) trust the self-signed certificate."""
    return {"REQUESTS_CA_BUNDLE": str(cert)}


__all__ = [
    "PASSWORD",
    "TOKEN",
    "USERNAME",
    "Canary",
    "ScriptedRegistry",
    "app_manifest",
    "auth_file",
    "blob_bytes",
    "copy_cert_env",
    "drip",
    "drip_head",
    "endless",
    "make_cert",
    "send",
]
