"""Pytest fixtures: a loopback Docker Distribution registry holding the OCI fixtures.

Use from a test module with `pytest_plugins = ["tests.registry_server"]`, then ask for
`registry_addr` ("127.0.0.1:PORT", plain HTTP, no auth) or `auth_registry` (the same images
behind htpasswd Basic auth). One registry process per fixture per session; both serve the
same storage directory, into which skopeo pushes:

    layerscope/app:1.0, layerscope/app:1.1   (oci:fixtures/oci/app-layout:<tag>)
    layerscope/multi:1.0                     (oci:fixtures/oci/multiarch-layout:1.0, --all)

Needs Debian's `docker-registry` and `skopeo` (require_tool: skipped locally, failing in CI).
"""

from __future__ import annotations

import base64
import http.server
import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, require_tool

PUSHES = [
    (["oci", "app-layout:1.0"], "layerscope/app:1.0", False),
    (["oci", "app-layout:1.1"], "layerscope/app:1.1", False),
    (["oci", "multiarch-layout:1.0"], "layerscope/multi:1.0", True),
]

# The htpasswd variant's account. The hash is bcrypt (cost 4, the minimum, to keep the
# registry's check fast) of PASSWORD, made with `python3 -c "import crypt; ..."` once.
USERNAME = "alice"
PASSWORD = "layerscope-secret"
BCRYPT_HASH = "$2b$04$6qarVVcv/ZP/NuIo0wvS1uVlSXsXbZyGnDpxWHI9h6LHk4RB/XzGi"

START_TIMEOUT = 15.0


@dataclass(frozen=True)
class RegistryProcess:
    address: str
    log: Path
    proc: subprocess.Popen[bytes]


@dataclass(frozen=True)
class AuthRegistry:
    address: str
    username: str
    password: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _config(addr: str, storage: Path, htpasswd: Path | None) -> str:
    auth = ""
    if htpasswd is not None:
        auth = f"auth:\n  htpasswd:\n    realm: layerscope-test\n    path: {htpasswd}\n"
    # Access log on: tests may count the requests a pull made.
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: false\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
        "  cache:\n    blobdescriptor: inmemory\n"
        f"http:\n  addr: {addr}\n  secret: layerscope-tests-only\n"
        "health:\n  storagedriver:\n    enabled: false\n"
        f"{auth}"
    )


def _answers(addr: str) -> bool:
    """True once GET /v2/ answers 200 (open) or 401 (htpasswd)."""
    try:
        with urllib.request.urlopen(f"http://{addr}/v2/", timeout=2) as r:
            return bool(r.status == 200)
    except urllib.error.HTTPError as e:
        return e.code == 401
    except OSError:
        return False


def start_registry(workdir: Path, storage: Path, htpasswd: Path | None = None) -> RegistryProcess:
    """Start docker-registry on a free loopback port; return once /v2/ answers."""
    exe = require_tool("docker-registry")
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "registry.log"
    for _attempt in range(3):  # another process may take the port between probe and bind
        addr = f"127.0.0.1:{_free_port()}"
        config = workdir / "config.yml"
        config.write_text(_config(addr, storage, htpasswd))
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [exe, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(addr):
                return RegistryProcess(addr, log, proc)
            time.sleep(0.05)
        stop_registry(RegistryProcess(addr, log, proc))
    pytest.fail(f"docker-registry did not start; log:\n{log.read_text(errors='replace')[-2000:]}")


def stop_registry(reg: RegistryProcess) -> None:
    if reg.proc.poll() is None:
        reg.proc.terminate()
        try:
            reg.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            reg.proc.kill()
            reg.proc.wait(timeout=5)


def push_fixtures(addr: str) -> None:
    skopeo = require_tool("skopeo")
    for (kind, src), dest, every in PUSHES:
        cmd = [skopeo, "copy", "-q", "--insecure-policy", "--dest-tls-verify=false"]
        if every:
            cmd.append("--all")
        cmd += [f"oci:{FIXTURES / kind / src}", f"docker://{addr}/{dest}"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            pytest.fail(f"skopeo push of {dest} failed: {done.stderr.strip()}")


@pytest.fixture(scope="session")
def _registry_storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry-storage")


@pytest.fixture(scope="session")
def registry_server(
    tmp_path_factory: pytest.TempPathFactory, _registry_storage: Path
) -> Iterator[RegistryProcess]:
    """The open (no auth, plain HTTP) registry process, fixtures pushed."""
    require_tool("skopeo")
    reg = start_registry(tmp_path_factory.mktemp("registry-open"), _registry_storage)
    try:
        push_fixtures(reg.address)
        yield reg
    finally:
        stop_registry(reg)


@pytest.fixture(scope="session")
def registry_addr(registry_server: RegistryProcess) -> str:
    """'127.0.0.1:PORT' of a plain-HTTP registry holding layerscope/app:1.0, :1.1, multi:1.0."""
    return registry_server.address


@pytest.fixture(scope="session")
def auth_registry(
    tmp_path_factory: pytest.TempPathFactory, _registry_storage: Path, registry_addr: str
) -> Iterator[AuthRegistry]:
    """A second registry over the same storage that demands Basic auth (htpasswd)."""
    work = tmp_path_factory.mktemp("registry-auth")
    htpasswd = work / "htpasswd"
    htpasswd.write_text(f"{USERNAME}:{BCRYPT_HASH}\n")
    reg = start_registry(work, _registry_storage, htpasswd)
    try:
        yield AuthRegistry(reg.address, USERNAME, PASSWORD, reg.log)
    finally:
        stop_registry(reg)


# --- a scripted registry, for what a real one will not do on demand -----------------------

TOKEN = "fake-bearer-token-7d1e"


class FakeRegistry:
    """A Distribution API over fixtures/oci/app-layout, served by http.server in a thread.

    Every path under /v2/ demands a Bearer token that /token issues for USERNAME:PASSWORD
    (the token flow Docker Hub and most registries use). Repository "layerscope/app" serves
    the layout's manifests and blobs; `corrupt` names blob digests served with one byte
    flipped; repository "layerscope/slow" answers only after `delay` seconds.
    """

    def __init__(self) -> None:
        self.layout = FIXTURES / "oci" / "app-layout"
        self.username, self.password = USERNAME, PASSWORD
        self.corrupt: set[str] = set()
        self.delay = 5.0
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                fake.handle(self, head=True)

            def do_GET(self) -> None:
                fake.handle(self, head=False)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, h: Any, head: bool) -> None:
        self.requests.append((h.command, h.path))
        if h.path.startswith("/token"):
            want = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
            if h.headers.get("Authorization") != f"Basic {want}":
                return self._send(h, 401, b'{"details":"bad credentials"}', head=head)
            return self._send(h, 200, json.dumps({"token": TOKEN}).encode(), head=head)
        if h.headers.get("Authorization") != f"Bearer {TOKEN}":
            realm = f'Bearer realm="http://{self.address}/token",service="fake"'
            return self._send(h, 401, b"{}", {"WWW-Authenticate": realm}, head)
        parts = h.path.split("/")  # ['', 'v2', 'layerscope', repo, kind, ref]
        if len(parts) != 6 or parts[2] != "layerscope":
            return self._send(h, 404, b"{}", head=head)
        if parts[3] == "slow":
            time.sleep(self.delay)
        kind, ref = parts[4], parts[5]
        if kind == "manifests" and not ref.startswith("sha256:"):
            index = json.loads((self.layout / "index.json").read_text())
            tags = {
                m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
                for m in index["manifests"]
            }
            if ref not in tags:
                return self._send(h, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', head=head)
            ref = tags[ref]
        blob = self.layout / "blobs" / "sha256" / ref.removeprefix("sha256:")
        if not ref.startswith("sha256:") or not blob.is_file():
            return self._send(h, 404, b"{}", head=head)
        data = bytearray(blob.read_bytes())
        if ref in self.corrupt:
            data[len(data) // 2] ^= 0xFF
        headers = {"Docker-Content-Digest": ref}
        if kind == "manifests":
            headers["Content-Type"] = "application/vnd.oci.image.manifest.v1+json"
        self._send(h, 200, bytes(data), headers, head)

    @staticmethod
    def _send(
        h: Any, code: int, body: bytes, headers: dict[str, str] | None = None, head: bool = False
    ) -> None:
        h.send_response(code)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)


@pytest.fixture()
def fake_registry() -> Iterator[FakeRegistry]:
    fake = FakeRegistry()
    try:
        yield fake
    finally:
        fake.close()
