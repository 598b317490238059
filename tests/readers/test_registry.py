"""docker:// references: pulls from a live loopback registry compared with the OCI layout
the images were pushed from (skopeo), plus a scripted registry for token auth, corrupted
blobs and a server that never answers."""

from __future__ import annotations

import base64
import json
import os
import time
import traceback
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from layerscope.errors import LayerscopeError, RegistryError, UsageError
from layerscope.readers import OpenOptions, open_image
from layerscope.readers.base import ImageReader
from layerscope.readers.registry import client as registry_client
from layerscope.readers.registry.auth import Credentials, find_credentials
from layerscope.readers.registry.ref import parse_reference
from tests.conftest import FIXTURES

if TYPE_CHECKING:
    from tests.registry_server import AuthRegistry, FakeRegistry

pytest_plugins = ["tests.registry_server"]

APP = FIXTURES / "oci" / "app-layout"
MULTI = FIXTURES / "oci" / "multiarch-layout"
INSECURE = OpenOptions(tls_verify=False)


@pytest.fixture(autouse=True)
def _no_user_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's own ~/.docker/config.json must not leak into these tests."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)


@pytest.fixture()
def http_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every HTTP request any requests.Session makes, as (method, url)."""
    log: list[tuple[str, str]] = []
    real = requests.Session.request

    def recording(self: requests.Session, method: str, url: str, *a: Any, **kw: Any) -> Any:
        log.append((method.upper(), url))
        return real(self, method, url, *a, **kw)

    monkeypatch.setattr(requests.Session, "request", recording)
    return log


def _tag_digest(layout: Path, tag: str) -> str:
    index = json.loads((layout / "index.json").read_text())
    for m in index["manifests"]:
        if m["annotations"]["org.opencontainers.image.ref.name"] == tag:
            digest: str = m["digest"]
            return digest
    raise AssertionError(tag)


def _all_entries(reader: ImageReader) -> list[list[Any]]:
    return [list(reader.iter_entries(i)) for i in range(len(reader.describe().layers))]


def _cache_dir() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "layerscope" / "blobs" / "sha256"


def _write_auth(path: Path, key: str, entry: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": {key: entry}}))
    return path


def _b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# --- references ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "host", "repo", "tag", "digest"),
    [
        ("alpine", "registry-1.docker.io", "library/alpine", "latest", None),
        ("docker.io/alpine:3.19", "registry-1.docker.io", "library/alpine", "3.19", None),
        ("index.docker.io/user/img", "registry-1.docker.io", "user/img", "latest", None),
        ("user/img:v1", "registry-1.docker.io", "user/img", "v1", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("127.0.0.1:5000/layerscope/app:1.0", "127.0.0.1:5000", "layerscope/app", "1.0", None),
        (
            "ghcr.io/org/sub/img@sha256:" + "a" * 64,
            "ghcr.io",
            "org/sub/img",
            None,
            "sha256:" + "a" * 64,
        ),
    ],
)
def test_parse_reference(
    ref: str, host: str, repo: str, tag: str | None, digest: str | None
) -> None:
    r = parse_reference(ref)
    assert (r.host, r.repository, r.tag, r.digest) == (host, repo, tag, digest)


@pytest.mark.parametrize(
    "ref", ["", "Upper/Case", "host.io/repo@sha256:abc", "host.io/repo:bad!tag", "host.io/", "a b"]
)
def test_bad_reference_is_a_usage_error(ref: str) -> None:
    with pytest.raises(UsageError) as e:
        open_image("docker://" + ref, INSECURE)
    assert e.value.exit_code == 2


# --- credentials ------------------------------------------------------------------------


def test_credentials_sources_and_secrecy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = parse_reference("127.0.0.1:5000/layerscope/app:1.0")
    home_cfg = _write_auth(
        tmp_path / "home" / ".docker" / "config.json",
        "127.0.0.1:5000",
        {"username": "bob", "password": "home-pw-123"},
    )
    warnings: list[str] = []
    creds = find_credentials(ref, warnings)
    assert creds is not None and (creds.username, creds.password) == ("bob", "home-pw-123")
    assert "home-pw-123" not in repr(creds) and str(home_cfg) in creds.source
    # REGISTRY_AUTH_FILE wins over ~/.docker/config.json; localhost and 127.0.0.1 are one.
    authfile = _write_auth(tmp_path / "auth.json", "localhost:5000", {"auth": _b64("al", "x:y")})
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(authfile))
    creds = find_credentials(ref, warnings)
    assert creds is not None and (creds.username, creds.password) == ("al", "x:y")
    assert warnings == []


def test_unrunnable_credential_helper_warns(
    registry_addr: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "auth.json"
    cfg.write_text(json.dumps({"credHelpers": {registry_addr: "layerscope-no-such-helper"}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(cfg))
    with closing(open_image(f"docker://{registry_addr}/layerscope/app:1.0", INSECURE)) as r:
        warnings = r.describe().warnings
    assert any("docker-credential-layerscope-no-such-helper" in w for w in warnings)


def test_malformed_auth_file_hides_its_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "auth.json"
    cfg.write_text('{"auths": {"h.io": {"auth": "c2VjcmV0LXB3"}}, oops}')
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(cfg))
    with pytest.raises(RegistryError) as e:
        open_image("docker://h.io/x:1", INSECURE)
    assert "invalid credentials file" in str(e.value) and "c2VjcmV0" not in str(e.value)


# --- the live registry --------------------------------------------------------------------


def test_pull_matches_the_pushed_layout(registry_addr: str) -> None:
    remote = open_image(f"docker://{registry_addr}/layerscope/app:1.0", INSECURE)
    local = open_image(f"oci:{APP}:1.0")
    try:
        rm, lm = remote.describe(), local.describe()
        assert rm.format == "registry"
        assert rm.source == f"docker://{registry_addr}/layerscope/app:1.0"
        assert rm.manifest_digest == lm.manifest_digest == _tag_digest(APP, "1.0")
        assert [(x.id, x.diff_id, x.media_type, x.stored_size) for x in rm.layers] == [
            (x.id, x.diff_id, x.media_type, x.stored_size) for x in lm.layers
        ]
        assert len(rm.layers) == 5
        assert (rm.config, rm.history, rm.labels) == (lm.config, lm.history, lm.labels)
        remote_entries = _all_entries(remote)
        assert remote_entries == _all_entries(local)
        assert sum(map(len, remote_entries)) == 44 + 39 + 17 + 6 + 11  # MANIFEST.md counts
        os_release = next(e for e in remote_entries[0] if e.path == "/etc/os-release")
        content = b"".join(remote.read_content(0, os_release.loc, os_release.size))
        assert content == b"".join(local.read_content(0, os_release.loc, os_release.size))
        assert len(content) == os_release.size
    finally:
        remote.close()
        local.close()


def test_second_open_downloads_nothing(registry_addr: str, http_log: list[tuple[str, str]]) -> None:
    ref = f"docker://{registry_addr}/layerscope/app:1.1"
    with closing(open_image(ref, INSECURE)) as r:
        first = _all_entries(r)
        layers = [x.id for x in r.describe().layers]
    assert sum("/blobs/" in u for _, u in http_log) == len(layers) + 1  # + config
    cached = {p.name for p in _cache_dir().iterdir()}
    assert {d.removeprefix("sha256:") for d in layers} <= cached
    assert not [n for n in cached if n.startswith(".")], "temporary files left behind"
    http_log.clear()
    with closing(open_image(ref, INSECURE)) as r:
        assert _all_entries(r) == first
    # The scheme probe (--tls-verify=false tries HTTPS first) and the tag resolved again by
    # one HEAD; nothing else goes over the wire.
    assert http_log == [
        ("GET", f"https://{registry_addr}/v2/"),
        ("HEAD", f"http://{registry_addr}/v2/layerscope/app/manifests/1.1"),
    ]


def test_by_digest_reference(registry_addr: str, http_log: list[tuple[str, str]]) -> None:
    digest = _tag_digest(APP, "1.0")
    ref = f"docker://{registry_addr}/layerscope/app@{digest}"
    with closing(open_image(ref, INSECURE)) as r:
        assert r.describe().manifest_digest == digest
        entries = _all_entries(r)
    with closing(open_image(f"oci:{APP}:1.0")) as local:
        assert entries == _all_entries(local)
    http_log.clear()
    with closing(open_image(ref, INSECURE)) as r:
        assert _all_entries(r) == entries
    assert http_log == []  # pinned and cached: no network at all


def test_missing_tag(registry_addr: str) -> None:
    with pytest.raises(RegistryError) as e:
        open_image(f"docker://{registry_addr}/layerscope/app:nope", INSECURE)
    assert str(e.value) == f"registry {registry_addr}: manifest unknown: layerscope/app:nope"
    assert e.value.exit_code == 4


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64/v8"])
def test_multi_platform_index(registry_addr: str, platform: str) -> None:
    opts = OpenOptions(platform=platform, tls_verify=False)
    with closing(open_image(f"docker://{registry_addr}/layerscope/multi:1.0", opts)) as r:
        meta = r.describe()
        entries = _all_entries(r)
        arch = next(e for e in entries[0] if e.path == "/etc/arch")
        arch_text = b"".join(r.read_content(0, arch.loc, arch.size))
    with closing(open_image(f"oci:{MULTI}:1.0", OpenOptions(platform=platform))) as local:
        lmeta = local.describe()
        assert entries == _all_entries(local)
        assert arch_text == b"".join(local.read_content(0, arch.loc, arch.size))
    assert meta.manifest_digest == lmeta.manifest_digest
    assert sorted(meta.platforms) == ["linux/amd64", "linux/arm64/v8"]
    assert arch_text.strip().decode() == platform.split("/")[1]


def test_unknown_platform_is_a_usage_error(registry_addr: str) -> None:
    opts = OpenOptions(platform="linux/s390x", tls_verify=False)
    with pytest.raises(UsageError, match="linux/arm64/v8"):
        open_image(f"docker://{registry_addr}/layerscope/multi:1.0", opts)


def test_plain_http_refused_when_verifying_tls(registry_addr: str) -> None:
    with pytest.raises(RegistryError) as e:
        open_image(f"docker://{registry_addr}/layerscope/app:1.0")
    assert str(e.value).startswith(f"registry {registry_addr}: TLS failure")
    assert "\n" not in str(e.value) and e.value.exit_code == 4


def test_no_cache_leaves_nothing(registry_addr: str) -> None:
    opts = OpenOptions(tls_verify=False, use_cache=False)
    with closing(open_image(f"docker://{registry_addr}/layerscope/app:1.0", opts)) as r:
        assert len(_all_entries(r)) == 5
    assert not _cache_dir().exists()


@pytest.mark.parametrize(
    ("host", "reason"),
    [("127.0.0.1:1", "connection refused"), ("no-such-host.invalid", "unknown host")],
)
def test_unreachable_registry(host: str, reason: str) -> None:
    start = time.monotonic()
    with pytest.raises(RegistryError) as e:
        open_image(f"docker://{host}/x/y:1", INSECURE)
    assert str(e.value) == f"registry {host}: {reason}"
    assert time.monotonic() - start < 15


# --- htpasswd (Basic) auth ----------------------------------------------------------------


def test_basic_auth_pull(auth_registry: AuthRegistry, tmp_path: Path) -> None:
    ref = f"docker://{auth_registry.address}/layerscope/app:1.0"
    with pytest.raises(RegistryError, match="authentication required"):
        open_image(ref, INSECURE)
    cfg = _write_auth(
        tmp_path / "home" / ".docker" / "config.json",
        auth_registry.address,
        {"auth": _b64(auth_registry.username, auth_registry.password)},
    )
    assert cfg.is_file()
    with closing(open_image(ref, INSECURE)) as r:
        assert r.describe().manifest_digest == _tag_digest(APP, "1.0")
        assert len(list(r.iter_entries(4))) == 11


def test_wrong_password_is_never_shown(
    auth_registry: AuthRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    wrong = "Wr0ng-pa55word-4e1f"
    authfile = _write_auth(
        tmp_path / "auth.json", auth_registry.address, {"username": "alice", "password": wrong}
    )
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(authfile))
    with pytest.raises(RegistryError) as e:
        open_image(f"docker://{auth_registry.address}/layerscope/app:1.0", INSECURE)
    assert "authentication failed" in str(e.value) and str(authfile) in str(e.value)
    _assert_secret_absent(e.value, wrong, capfd)


def _assert_secret_absent(
    err: BaseException, secret: str, capfd: pytest.CaptureFixture[str]
) -> None:
    encoded = _b64("alice", secret)
    chain: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    texts = [str(x) for x in chain] + [repr(x) for x in chain]
    texts.append("".join(traceback.format_exception(err)))
    out, errout = capfd.readouterr()
    for text in [*texts, out, errout]:
        assert secret not in text and encoded not in text


# --- a scripted registry: Bearer tokens, corruption, silence ------------------------------


def test_bearer_token_flow(
    fake_registry: FakeRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    ref = f"docker://{fake_registry.address}/layerscope/app:1.0"
    authfile = _write_auth(
        tmp_path / "a.json", fake_registry.address, {"auth": _b64("alice", "nope-77ab")}
    )
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(authfile))
    with pytest.raises(RegistryError, match="authentication failed") as e:
        open_image(ref, INSECURE)
    _assert_secret_absent(e.value, "nope-77ab", capfd)
    login = _b64(fake_registry.username, fake_registry.password)
    _write_auth(authfile, fake_registry.address, {"auth": login})
    with closing(open_image(ref, INSECURE)) as r:
        assert r.describe().manifest_digest == _tag_digest(APP, "1.0")
    assert any(path.startswith("/token") for _, path in fake_registry.requests)


@pytest.fixture()
def _fake_login(
    fake_registry: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = _b64(fake_registry.username, fake_registry.password)
    authfile = _write_auth(tmp_path / "a.json", fake_registry.address, {"auth": login})
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(authfile))


@pytest.mark.usefixtures("_fake_login")
def test_corrupt_layer_is_not_cached(fake_registry: FakeRegistry) -> None:
    manifest = json.loads((APP / "blobs" / "sha256" / _tag_digest(APP, "1.0")[7:]).read_text())
    bad = manifest["layers"][2]["digest"]
    fake_registry.corrupt.add(bad)
    with closing(open_image(f"docker://{fake_registry.address}/layerscope/app:1.0", INSECURE)) as r:
        assert len(list(r.iter_entries(1))) == 39
        with pytest.raises(RegistryError) as e:
            list(r.iter_entries(2))
    assert str(e.value).startswith(f"registry {fake_registry.address}: blob {bad}: digest mismatch")
    names = {p.name for p in _cache_dir().iterdir()}
    assert bad[7:] not in names and manifest["layers"][1]["digest"][7:] in names
    assert not [n for n in names if n.startswith(".")]


@pytest.mark.usefixtures("_fake_login")
def test_corrupt_manifest_by_digest(fake_registry: FakeRegistry) -> None:
    digest = _tag_digest(APP, "1.1")
    fake_registry.corrupt.add(digest)
    with pytest.raises(RegistryError, match="digest mismatch"):
        open_image(f"docker://{fake_registry.address}/layerscope/app@{digest}", INSECURE)
    assert not _cache_dir().exists() or digest[7:] not in {p.name for p in _cache_dir().iterdir()}


@pytest.mark.usefixtures("_fake_login")
def test_silent_registry_times_out(
    fake_registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_client, "TIMEOUT", (2.0, 0.5))
    fake_registry.delay = 3.0
    start = time.monotonic()
    with pytest.raises(RegistryError) as e:
        open_image(f"docker://{fake_registry.address}/layerscope/slow:1.0", INSECURE)
    assert str(e.value) == f"registry {fake_registry.address}: timed out"
    assert time.monotonic() - start < 2.5


def test_errors_are_layerscope_errors() -> None:
    assert issubclass(RegistryError, LayerscopeError) and RegistryError.exit_code == 4
    assert "s3cr3t" not in repr(Credentials("u", "s3cr3t", "file"))
