"""`ls docker://...` against a real local registry equals reading the same image locally."""

from __future__ import annotations

from tests.cli.run import proc
from tests.conftest import FIXTURES

pytest_plugins = ["tests.registry_server"]


def test_ls_registry_equals_layout(registry_addr: str) -> None:
    remote = proc(
        "ls", f"docker://{registry_addr}/layerscope/app:1.0", "--tls-verify=false", "--json"
    )
    assert remote.code == 0, remote.err
    local = proc("ls", f"oci:{FIXTURES / 'oci' / 'app-layout'}:1.0", "--json")
    assert remote.json()["entries"] == local.json()["entries"]
    assert remote.json()["image"]["format"] == "registry"


def test_missing_tag_exits_4_one_line(registry_addr: str) -> None:
    r = proc("ls", f"docker://{registry_addr}/layerscope/app:nope", "--tls-verify=false")
    assert r.code == 4
    assert r.err.count("\n") == 1 and r.err.startswith("layerscope: error: registry ")


def test_plain_http_refused_by_default(registry_addr: str) -> None:
    r = proc("ls", f"docker://{registry_addr}/layerscope/app:1.0")
    assert r.code == 4 and r.err.count("\n") == 1
