"""Hostile registries (issue 14, items 2 and 6), each attack rebuilt by a scripted server on
127.0.0.1: a token realm over plain HTTP or on another host, credentials typed into a
reference, a server dripping one byte every 20 s (in the body or in the head), bodies
longer than declared or endless (blobs and token answers), a descriptor without `size`,
and SIGTERM in the middle of a download. Timeouts here are hang guards, never speed
assertions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from layerscope.errors import RegistryError
from layerscope.readers import OpenOptions, open_image
from layerscope.readers.registry import transfer
from tests.cli.run import Result, proc
from tests.conftest import ROOT
from tests.readers.registry_scripted import (
    PASSWORD,
    TOKEN,
    Canary,
    ScriptedRegistry,
    app_manifest,
    auth_file,
    drip,
    drip_head,
    endless,
    make_cert,
)

INSECURE = OpenOptions(tls_verify=False)
HANG_GUARD = 120  # seconds: proves "finishes", not "fast"


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def scripted() -> Iterator[ScriptedRegistry]:
    reg = ScriptedRegistry()
    reg.manifest("1.0", app_manifest())
    try:
        yield reg
    finally:
        reg.close()


@pytest.fixture()
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return make_cert(tmp_path)


def _one_line(r: Result, code: int, *needles: str) -> None:
    assert r.code == code, r.err
    assert r.err.count("\n") == 1 and r.err.startswith("layerscope: error: "), r.err
    for needle in needles:
        assert needle in r.err, r.err
    assert "Traceback" not in r.err


def _ref(reg: ScriptedRegistry) -> str:
    return f"docker://{reg.address}/layerscope/app:1.0"


def _layer(n: int) -> str:
    digest: str = app_manifest()["layers"][n]["digest"]
    return digest


def _leftovers(*dirs: Path) -> list[Path]:
    """Partial downloads anywhere under dirs."""
    found: list[Path] = []
    for d in dirs:
        if d.exists():
            found += [p for p in d.rglob("*") if p.name.endswith(".part")]
            found += [p for p in d.glob("layerscope-pull-*")]
    return found


def _xdg_blobs() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "layerscope" / "blobs"


# --- item 2: where credentials may go ---------------------------------------------------


def test_plain_http_realm_is_refused_while_tls_is_verified(
    tmp_path: Path, cert: tuple[Path, Path]
) -> None:
    reg, canary = ScriptedRegistry(tls=cert), Canary()
    try:
        reg.manifest("1.0", app_manifest())
        reg.challenge = f'Bearer realm="http://{canary.address}/token",service="scripted"'
        env = {**auth_file(tmp_path, reg.address), "REQUESTS_CA_BUNDLE": str(cert[0])}
        r = proc("ls", _ref(reg), env=env, timeout=HANG_GUARD)
        _one_line(r, 4, "refusing token realm", f"http://{canary.address}", "clear text")
        assert canary.calls == [], "the credentials went to the plain-HTTP realm"
        assert PASSWORD not in r.err and PASSWORD.encode() not in r.out
        # Only an explicit --tls-verify=false lets them go there (the user's choice).
        r = proc("ls", _ref(reg), "--tls-verify=false", env=env, timeout=HANG_GUARD)
        assert r.code == 0, r.err
        assert canary.calls and canary.calls[0][1].startswith("Basic ")
    finally:
        reg.close()
        canary.close()


@pytest.mark.parametrize("realm_host", ["localhost", "127.0.0.1"])
def test_realm_on_another_host_is_said(
    tmp_path: Path, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, realm_host: str
) -> None:
    reg = ScriptedRegistry(tls=cert)
    try:
        reg.manifest("1.0", app_manifest())
        reg.challenge = f'Bearer realm="https://{realm_host}:{reg.port}/token",service="s"'
        env = {**auth_file(tmp_path, reg.address), "REQUESTS_CA_BUNDLE": str(cert[0])}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        with closing(open_image(_ref(reg))) as img:  # TLS verified, against the test's CA
            warnings = img.describe().warnings
            assert len(list(img.iter_entries(4))) == 11
        assert any(t == f"Bearer {TOKEN}" for _, _, t in reg.requests)
        other = [w for w in warnings if "another host" in w]
        if realm_host == "127.0.0.1":
            assert other == [], warnings
            return
        assert len(other) == 1 and f"https://localhost:{reg.port}" in other[0], warnings
        assert env["REGISTRY_AUTH_FILE"] in other[0] and PASSWORD not in other[0]
        r = proc("ls", _ref(reg), env=env, timeout=HANG_GUARD)  # the CLI says it on stderr
        assert r.code == 0, r.err
        lines = [x for x in r.err.splitlines() if "another host" in x]
        assert len(lines) == 1 and f"localhost:{reg.port}" in lines[0], r.err
        assert PASSWORD not in r.err and b"another host" not in r.out
    finally:
        reg.close()


@pytest.mark.parametrize(
    "ref",
    [
        "alice:s3cr3t-pw@127.0.0.1:5000/layerscope/app:1.0",
        "alice:s3cr3t-pw@127.0.0.1:5000",
        "alice@s3cr3t-host.example/org/img",
        "alice:s3cr3t-pw@docker.io/library/alpine@sha256:" + "a" * 64,
    ],
)
@pytest.mark.parametrize("command", ["ls", "inspect"])
def test_credentials_in_a_reference_are_refused_unechoed(ref: str, command: str) -> None:
    r = proc(command, f"docker://{ref}", timeout=HANG_GUARD)
    _one_line(r, 2, "credentials", "login")
    assert "s3cr3t" not in r.err and b"s3cr3t" not in r.out


# --- item 6: registries that never finish ---------------------------------------------


@pytest.mark.parametrize("how", ["body", "head"])
def test_one_byte_every_20s_hits_the_deadline(scripted: ScriptedRegistry, how: str) -> None:
    scripted.blob_behaviour[_layer(2)] = drip(20.0) if how == "body" else drip_head(20.0)
    env = {"LAYERSCOPE_REGISTRY_DEADLINE": "3"}
    r = proc("cat", _ref(scripted), "/etc/app/config.yml", "--tls-verify=false", env=env,
             timeout=HANG_GUARD)  # fmt: skip
    _one_line(r, 4, "registry_deadline", "LAYERSCOPE_REGISTRY_DEADLINE")
    assert r.out == b""
    assert _leftovers(_xdg_blobs()) == []


def test_too_slow_a_download_is_stopped(
    scripted: ScriptedRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real window is 30 s; the rule is the same over half a second.
    monkeypatch.setattr(transfer, "RATE_WINDOW", 0.5)
    scripted.blob_behaviour[_layer(1)] = drip(0.05)  # ~20 bytes/s, under 10 kB/s
    with closing(open_image(_ref(scripted), INSECURE)) as img:
        assert len(list(img.iter_entries(0))) == 44
        with pytest.raises(RegistryError) as e:
            list(img.iter_entries(1))
    text = str(e.value)
    assert "too slow" in text and "registry_min_rate" in text and "\n" not in text
    assert e.value.exit_code == 4
    monkeypatch.setenv("LAYERSCOPE_REGISTRY_MIN_RATE", "0")  # 0: no minimum
    scripted.blob_behaviour[_layer(3)] = drip(0.003)  # 457 bytes over > 1 s
    with closing(open_image(_ref(scripted), INSECURE)) as img:
        assert len(list(img.iter_entries(3))) == 6


@pytest.mark.parametrize("which", ["config", "layer"])
def test_descriptor_without_size_is_refused(scripted: ScriptedRegistry, which: str) -> None:
    doc = app_manifest()
    desc = doc["config"] if which == "config" else doc["layers"][1]
    del desc["size"]
    scripted.manifest("1.0", doc)
    r = proc("ls", _ref(scripted), "--tls-verify=false", timeout=HANG_GUARD)
    name = "config" if which == "config" else "layer 1"
    _one_line(r, 3, f"{name} descriptor has no valid 'size'", "OCI requires")
    assert not any(desc["digest"] in path for _, path, _ in scripted.requests)


@pytest.mark.parametrize("length", [None, 10**12])
def test_blob_longer_than_declared_is_cut(scripted: ScriptedRegistry, length: int | None) -> None:
    scripted.blob_behaviour[_layer(3)] = endless(length=length)
    size = app_manifest()["layers"][3]["size"]
    r = proc("ls", _ref(scripted), "--tls-verify=false", timeout=HANG_GUARD)
    _one_line(r, 4, f"more than the {size} bytes its descriptor declares", _layer(3))
    assert _leftovers(_xdg_blobs()) == []
    names = {p.name for p in (_xdg_blobs() / "sha256").iterdir()}
    assert _layer(3)[7:] not in names and _layer(2)[7:] in names


def test_endless_token_answer_is_capped(scripted: ScriptedRegistry) -> None:
    scripted.challenge = f'Bearer realm="http://{scripted.address}/token",service="s"'
    scripted.token_behaviour = endless()
    env = {"LAYERSCOPE_MAX_JSON_BYTES": "1MiB"}
    r = proc("ls", _ref(scripted), "--tls-verify=false", env=env, timeout=HANG_GUARD)
    _one_line(r, 3, "token answer larger than 1048576 bytes", "max_json_bytes")


# --- partial downloads on SIGTERM/SIGHUP ---------------------------------------------------


@pytest.mark.parametrize(
    ("use_cache", "sig"),
    [(False, signal.SIGTERM), (True, signal.SIGTERM), (False, signal.SIGHUP)],
)
def test_termination_removes_partial_downloads(
    scripted: ScriptedRegistry, tmp_path: Path, use_cache: bool, sig: signal.Signals
) -> None:
    doc = app_manifest()
    doc["layers"][1]["size"] = 10**10  # 10 GB promised; the server streams zeros
    scripted.manifest("1.0", doc)
    scripted.blob_behaviour[_layer(1)] = endless(pause=0.01)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    args = ["ls", _ref(scripted), "--tls-verify=false", *([] if use_cache else ["--no-cache"])]
    child = subprocess.Popen(
        [sys.executable, "-m", "layerscope", *args],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # as from a login shell: a runner that ignores SIGHUP (nohup) must not pass it on
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    watched = _xdg_blobs() if use_cache else tmpdir
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not any(p.stat().st_size > 1 << 20 for p in _parts(watched)):
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "no partial download appeared"
            time.sleep(0.05)
        child.send_signal(sig)
        code = child.wait(timeout=HANG_GUARD)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code == 128 + sig
    assert _leftovers(tmpdir, _xdg_blobs()) == []


def _parts(top: Path) -> list[Path]:
    try:
        return [p for p in top.rglob("*.part") if p.is_file()]
    except OSError:
        return []


def test_manifest_documents_parse() -> None:
    """The crafted manifests start from the real one (sanity for the tests above)."""
    doc = app_manifest()
    assert len(doc["layers"]) == 5 and all("size" in d for d in doc["layers"])
    assert json.loads(json.dumps(doc)) == doc
