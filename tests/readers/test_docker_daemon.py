"""docker-daemon: against a real server of the Docker Engine API, `podman system service`
on a unix socket in a temporary directory, in front of a store buildah wrote; compared
with `podman save` of the same image. A counting proxy between the two sees every request."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.run import proc
from tests.conftest import require_tool
from tests.engines import APP, StoreInfo, build_store, podman_save
from tests.readers.test_containers_storage import tree

pytestmark = pytest.mark.slow


class CountingProxy:
    """A unix-socket proxy that records the request line of every connection."""

    def __init__(self, listen: Path, upstream: Path) -> None:
        self.upstream = str(upstream)
        self.requests: list[str] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(listen))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as up:
            up.connect(self.upstream)
            head = b""
            while b"\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            self.requests.append(head.split(b"\r\n", 1)[0].decode())
            up.sendall(head)
            back = threading.Thread(target=_pump, args=(up, client), daemon=True)
            back.start()
            _pump(client, up)
            back.join(timeout=600)

    def gets(self) -> int:
        return sum(1 for r in self.requests if r.split(" ")[1].endswith("/get"))

    def close(self) -> None:
        self.server.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(1 << 16):
            dst.sendall(chunk)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[StoreInfo, CountingProxy, str]]:
    work = tmp_path_factory.mktemp("daemon")
    info = build_store(work, "vfs")
    sock = work / "podman.sock"
    service = subprocess.Popen(
        ["podman", *info.args(), "system", "service", "--time", "0", f"unix://{sock}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert service.poll() is None, "podman system service exited"
            assert time.monotonic() < deadline, "podman system service made no socket"
            time.sleep(0.1)
        proxy = CountingProxy(work / "proxy.sock", sock)
        yield info, proxy, f"unix://{work / 'proxy.sock'}"
        proxy.close()
    finally:
        service.terminate()
        service.wait(timeout=30)


def test_tree_and_metadata_equal_the_saved_archive(
    daemon: tuple[StoreInfo, CountingProxy, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    info, _, host = daemon
    monkeypatch.setenv("DOCKER_HOST", host)
    archive = podman_save(info, APP, tmp_path / "app.tar")
    assert tree(f"docker-daemon:{APP}") == tree(f"docker-archive:{archive}")
    mine = proc("inspect", "--json", f"docker-daemon:{APP}", env={"DOCKER_HOST": host}).json()
    saved = proc("inspect", "--json", f"docker-archive:{archive}").json()
    assert mine["image"]["format"] == "docker-daemon"
    for key in ("config", "history", "labels", "platforms"):
        assert mine[key] == saved[key], key
    assert [la["diff_id"] for la in mine["layers"]] == [la["diff_id"] for la in saved["layers"]]
    assert mine["image"]["config_digest"] == saved["image"]["config_digest"]


def test_a_second_open_makes_no_image_request(
    daemon: tuple[StoreInfo, CountingProxy, str], tmp_path: Path
) -> None:
    _, proxy, host = daemon
    env = {"DOCKER_HOST": host, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    before = proxy.gets()
    first = proc("ls", "--json", f"docker-daemon:{APP}", env=env)
    assert first.code == 0, first.err
    assert proxy.gets() == before + 1
    second = proc("ls", "--json", f"docker-daemon:{APP}", env=env)
    assert second.code == 0 and second.json()["entries"] == first.json()["entries"]
    assert proxy.gets() == before + 1  # only /images/{name}/json was asked
    assert proc("cat", f"docker-daemon:{APP}", "/etc/os-release", env=env).out.endswith(
        b"VERSION=2\n"
    )
    assert proxy.gets() == before + 1
    # --no-cache keeps nothing: it asks again
    assert proc("ls", "--no-cache", f"docker-daemon:{APP}", env=env).code == 0
    assert proxy.gets() == before + 2


def test_missing_image_and_missing_daemon_exit_4_with_one_line(
    daemon: tuple[StoreInfo, CountingProxy, str], tmp_path: Path
) -> None:
    _, _, host = daemon
    r = proc("ls", "docker-daemon:localhost/nope:1", env={"DOCKER_HOST": host})
    assert r.code == 4 and r.out == b"" and r.err.count("\n") == 1
    assert "docker-daemon:" in r.err and "nope" in r.err
    r = proc("ls", f"docker-daemon:{APP}", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert r.code == 4 and r.err.count("\n") == 1 and "no daemon" in r.err


def test_a_bare_name_falls_back_to_the_daemon(
    daemon: tuple[StoreInfo, CountingProxy, str], tmp_path: Path
) -> None:
    """No such image in the podman store podman would use: the daemon is asked next."""
    _, _, host = daemon
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path / "empty"}"\n')
    env = {"DOCKER_HOST": host, "CONTAINERS_STORAGE_CONF": str(conf)}
    r = proc("ls", "--json", "cs-app:1", "/etc", env=env)
    assert r.code == 0, r.err
    assert r.json()["image"]["format"] == "docker-daemon"
    assert os.path.basename(r.json()["image"]["source"]) == "cs-app:1"


def _load(sock: Path, archive: Path) -> None:
    """POST /images/load: the archive into the daemon (no client binary needed)."""
    import http.client

    class Unix(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(str(sock))

    conn = Unix("localhost", timeout=120)
    conn.request("POST", "/images/load", body=archive.read_bytes(),
                 headers={"Content-Type": "application/x-tar"})  # fmt: skip
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 200, body


@pytest.fixture(scope="module")
def dockerd(
    tmp_path_factory: pytest.TempPathFactory, daemon: tuple[StoreInfo, CountingProxy, str]
) -> Iterator[tuple[str, Path, CountingProxy]]:
    """Debian's docker.io daemon (vfs, no networking set up), holding cs-app:1 loaded from
    `podman save`; behind a counting proxy too."""
    binary = require_tool("dockerd")
    info = daemon[0]
    work = tmp_path_factory.mktemp("dockerd")
    archive = podman_save(info, APP, work / "app.tar")
    sock = work / "d.sock"
    log = open(work / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    service = subprocess.Popen(
        [binary, "--data-root", str(work / "data"), "--exec-root", str(work / "x"),
         "--pidfile", str(work / "pid"), "--host", f"unix://{sock}", "--iptables=false",
         "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"],
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not sock.exists():
            assert service.poll() is None, (work / "dockerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "dockerd made no socket"
            time.sleep(0.2)
        _load(sock, archive)
        proxy = CountingProxy(work / "p.sock", sock)
        yield f"unix://{work / 'p.sock'}", archive, proxy
        proxy.close()
    finally:
        service.terminate()
        service.wait(timeout=60)
        log.close()


def test_docker_io_daemon_serves_the_same_image(
    dockerd: tuple[str, Path, CountingProxy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, archive, proxy = dockerd
    monkeypatch.setenv("DOCKER_HOST", host)
    assert tree(f"docker-daemon:{APP}") == tree(f"docker-archive:{archive}")
    env = {"DOCKER_HOST": host, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    gets = proxy.gets()
    for _ in range(2):
        r = proc("ls", f"docker-daemon:{APP}", "/etc/os-release", env=env)
        assert r.code == 0, r.err
    assert proxy.gets() == gets + 1
    r = proc("ls", "docker-daemon:localhost/nope:1", env={"DOCKER_HOST": host})
    assert r.code == 4 and r.err.count("\n") == 1 and "nope" in r.err
