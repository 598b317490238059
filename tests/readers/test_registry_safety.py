"""Registry safety through the real CLI: TLS is verified unless told otherwise, credentials
and tokens never reach stdout or stderr, and a blob whose digest does not match is exit 4
and never enters the cache.

tests/readers/test_registry.py checks the same at the reader level (exceptions, their
chains, the test process's own output); these run `layerscope` as users do, against the
scripted token registry of tests/registry_server.py and a self-signed HTTPS server.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from layerscope.readers import OpenOptions
from tests.cli.run import Result, proc
from tests.conftest import FIXTURES, require_tool

if TYPE_CHECKING:
    from tests.registry_server import FakeRegistry

pytest_plugins = ["tests.registry_server"]


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)


def _auth_file(tmp_path: Path, address: str, user: str, password: str) -> dict[str, str]:
    path = tmp_path / "auth.json"
    login = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {address: {"auth": login}}}))
    return {"REGISTRY_AUTH_FILE": str(path)}


def _assert_clean(r: Result, secrets: list[str], what: str) -> None:
    text = r.out.decode("utf-8", "replace") + r.err
    for secret in secrets:
        assert secret not in text, f"{what}: a secret was printed"
    assert "Traceback" not in r.err, f"{what}: {r.err}"


def test_cli_output_never_shows_credentials(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    from tests.registry_server import TOKEN  # imported here: the module is a pytest plugin

    ref = f"docker://{fake_registry.address}/layerscope/app:1.0"
    good = _auth_file(tmp_path, fake_registry.address, "alice", fake_registry.password)
    secrets = [fake_registry.password, TOKEN, _b64_login(fake_registry)]
    for args in (
        ("ls", "--json", ref),
        ("inspect", ref),
        ("inspect", "--json", ref),
        ("cat", ref, "/etc/app/config.yml"),
    ):
        r = proc(*args, "--tls-verify=false", env=good)
        assert r.code == 0, r.err
        _assert_clean(r, secrets, " ".join(args))
    wrong = "Wr0ng-pa55-91c2"
    bad = _auth_file(tmp_path, fake_registry.address, "alice", wrong)
    r = proc("ls", ref, "--tls-verify=false", env=bad)
    assert r.code == 4 and r.err.count("\n") == 1 and "authentication failed" in r.err, r.err
    _assert_clean(r, [wrong, base64.b64encode(f"alice:{wrong}".encode()).decode(), TOKEN], "ls")


def _b64_login(fake: FakeRegistry) -> str:
    return base64.b64encode(f"{fake.username}:{fake.password}".encode()).decode()


def test_digest_mismatch_is_exit_4_and_not_cached(
    fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    layout = FIXTURES / "oci" / "app-layout"
    index = json.loads((layout / "index.json").read_text())
    tag = next(
        m["digest"]
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == "1.0"
    )
    manifest = json.loads((layout / "blobs" / "sha256" / tag[7:]).read_text())
    bad = manifest["layers"][2]["digest"]
    fake_registry.corrupt.add(bad)
    env = _auth_file(tmp_path, fake_registry.address, "alice", fake_registry.password)
    r = proc("ls", f"docker://{fake_registry.address}/layerscope/app:1.0", "--tls-verify=false",
             env=env)  # fmt: skip
    assert r.code == 4, r.err
    assert r.err.count("\n") == 1 and "digest mismatch" in r.err and bad in r.err, r.err
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "layerscope" / "blobs" / "sha256"
    names = {p.name for p in cache.iterdir()}
    assert bad[7:] not in names, "the corrupt blob was cached"
    assert manifest["layers"][1]["digest"][7:] in names  # the good ones before it were
    assert not [n for n in names if n.startswith(".")], "a partial download was left behind"
    # Asking again downloads it again (and fails again): nothing bad was remembered.
    r = proc("ls", f"docker://{fake_registry.address}/layerscope/app:1.0", "--tls-verify=false",
             env=env)  # fmt: skip
    assert r.code == 4 and "digest mismatch" in r.err


@pytest.fixture()
def tls_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server with a self-signed certificate, answering 404 to everything."""
    openssl = require_tool("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_HEAD = do_GET

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_tls_is_verified_by_default(tls_server: str) -> None:
    assert OpenOptions().tls_verify is True
    ref = f"docker://{tls_server}/layerscope/app:1.0"
    r = proc("ls", ref, timeout=60)
    assert r.code == 4 and r.err.count("\n") == 1, r.err
    assert "TLS failure" in r.err and "certificate verify failed" in r.err, r.err
    # Only an explicit --tls-verify=false gets past the certificate (to the server's 404).
    r = proc("ls", ref, "--tls-verify=false", timeout=60)
    assert r.code == 4 and "TLS failure" not in r.err and "unknown" in r.err, r.err
