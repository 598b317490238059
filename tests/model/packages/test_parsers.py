"""The package database parsers: positive and negative examples per manager."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from layerscope.model.packages import apk, build, conda, dpkg, packages_diff, python, rpm, versions
from layerscope.model.packages.records import join
from tests.packages_support import rpm_root


def test_dpkg_status_conffiles_and_multiarch_info_names() -> None:
    status = (
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n"
        "Multi-Arch: same\nVersion: 2.36-9\nConffiles:\n /etc/ld.so.conf abc newconffile\n"
        " /etc/gai.conf " + "0" * 32 + "\nDescription: x\n more\n\n"
        "Package: old\nStatus: deinstall ok config-files\nVersion: 1\n"
    )
    stanzas = dpkg.parse_status(status)
    assert [s.name for s in stanzas] == ["libc6", "old"]
    assert stanzas[0].conffiles == {"/etc/ld.so.conf": "abc", "/etc/gai.conf": "0" * 32}
    assert dpkg.installed_versions(status) == {"libc6": "2.36-9"}
    libc_md5 = hashlib.md5(b"libc").hexdigest()
    db = dpkg.package_db(
        stanzas,
        {"libc6:amd64": "/.\n/lib\n/lib/x86_64-linux-gnu/libc.so.6\n/etc/gai.conf\n"},
        {"libc6:amd64": f"{libc_md5}  lib/x86_64-linux-gnu/libc.so.6\n"},
    )
    rec = db.files["/lib/x86_64-linux-gnu/libc.so.6"]
    assert (rec.package.name, rec.algo, rec.digest) == ("libc6", "md5", bytes.fromhex(libc_md5))
    assert db.files["/etc/gai.conf"].config
    assert db.files["/etc/ld.so.conf"].algo is None  # "abc" is no md5
    assert "/." not in db.files
    assert [p.name for p in db.packages] == ["libc6"]  # config-files only: not installed


def test_apk_installed_checksums() -> None:
    data = b"#!/bin/sh\n"
    q1 = "Q1" + base64.b64encode(hashlib.sha1(data).digest()).decode()
    text = (
        f"C:Q1abc=\nP:busybox\nV:1.36.1-r2\nA:x86_64\nF:bin\nR:busybox\na:0:0:755\nZ:{q1}\n"
        "R:sh\nZ:Q1not-base64!\nF:etc\nR:motd\n\nP:musl\nV:1.2.4-r2\nF:lib\nR:ld-musl.so.1\n"
    )
    db = apk.parse_installed(text)
    assert [(p.name, p.version) for p in db.packages] == [("busybox", "1.36.1-r2"),
                                                           ("musl", "1.2.4-r2")]  # fmt: skip
    assert db.files["/bin/busybox"].algo == "sha1"
    assert db.files["/bin/busybox"].digest == hashlib.sha1(data).digest()
    assert db.files["/bin/sh"].algo is None  # a bad checksum is no checksum
    assert db.files["/etc/motd"].package.name == "busybox"
    assert db.files["/lib/ld-musl.so.1"].package.name == "musl"
    assert apk.checksum("Q2" + base64.b64encode(b"\0" * 32).decode()) == ("sha256", b"\0" * 32)
    assert apk.checksum("Q1" + base64.b64encode(b"short").decode()) is None


def test_python_record_and_environments() -> None:
    site = "/opt/venv/lib/python3.12/site-packages"
    digest = base64.urlsafe_b64encode(hashlib.sha256(b"x").digest()).rstrip(b"=").decode()
    record = (
        f"packaging/__init__.py,sha256={digest},1\n"
        "packaging-26.4.dist-info/RECORD,,\n"
        f"../../../bin/tool,sha256={digest},1\n"
        "../../../../../../escape,sha256=AAAA,1\n"
        '"odd,name.py",md5=,3\n'
    )
    db = python.dist_db(f"{site}/packaging-26.4.dist-info", record)
    assert db.packages[0].env == "/opt/venv"
    assert db.files[f"{site}/packaging/__init__.py"].digest == hashlib.sha256(b"x").digest()
    assert db.files["/opt/venv/bin/tool"].algo == "sha256"
    assert db.files[f"{site}/packaging-26.4.dist-info/RECORD"].algo is None
    assert f"{site}/odd,name.py" in db.files
    assert not any(p.endswith("escape") and p.count("/") < 2 for p in db.files)
    assert python.environment("/usr/lib/python3/dist-packages") == "/usr"
    assert python.environment("/usr/local/lib/python3.11/dist-packages") == "/usr/local"
    assert python.environment("/srv/app/vendor") == "/srv/app/vendor"
    assert python.dist_name("/x/Foo_Bar.baz-1.0-py3.11.egg-info") == ("foo-bar-baz", "1.0")
    assert python.dist_name("/x/not-a-dist") is None


def test_conda_paths_data_prefers_the_installed_digest() -> None:
    meta = {
        "name": "zlib",
        "version": "1.3",
        "files": ["lib/libz.so", "bin/x", "../../outside"],
        "paths_data": {
            "paths": [
                {"_path": "lib/libz.so", "sha256": "11" * 32},
                {"_path": "bin/x", "sha256": "22" * 32, "prefix_placeholder": "/opt/anaconda1"},
                {"_path": "bin/y", "sha256": "22" * 32, "prefix_placeholder": "/p",
                 "sha256_in_prefix": "33" * 32},
            ]
        },
    }  # fmt: skip
    db = conda.meta_db("/opt/conda/envs/ml/conda-meta/zlib-1.3-h0.json", json.dumps(meta))
    assert db.packages[0].env == "/opt/conda/envs/ml"
    assert db.files["/opt/conda/envs/ml/lib/libz.so"].digest == bytes.fromhex("11" * 32)
    assert db.files["/opt/conda/envs/ml/bin/x"].digest is None  # rewritten at install
    assert db.files["/opt/conda/envs/ml/bin/y"].digest == bytes.fromhex("33" * 32)
    assert conda.record_name("/c/conda-meta/a-b-1.0-0.json", "not json") == ("a-b", "1.0")


def test_rpm_header_rejects_malformed_blobs() -> None:
    with pytest.raises(rpm.HeaderError):
        rpm.parse_header(b"\0\0\0\1")
    with pytest.raises(rpm.HeaderError):
        rpm.parse_header(b"\x7f\xff\xff\xff\0\0\0\0")  # 2^31 index entries
    blob = b"\0\0\0\1\0\0\0\4" + (1000).to_bytes(4, "big") + (6).to_bytes(4, "big")
    blob += (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + b"abcd"
    with pytest.raises(rpm.HeaderError):
        rpm.parse_header(blob)  # the string runs off the data: no NUL
    assert rpm.parse_sqlite(b"not a database").problems


def test_rpm_sqlite_database_made_by_rpm(tmp_path: Path) -> None:
    root = rpm_root(tmp_path)
    db = rpm.parse_sqlite((root / "var/lib/rpm/rpmdb.sqlite").read_bytes())
    assert db.problems == []
    assert [(p.name, p.version) for p in db.packages] == [("demo", "1:1.2-3")]
    tool = db.files["/usr/bin/demo"]
    assert tool.algo == "sha256"
    assert tool.digest == hashlib.sha256((root / "usr/bin/demo").read_bytes()).digest()
    assert db.files["/etc/demo/demo.conf"].config
    assert db.files["/usr/share/demo/link"].algo is None  # a symlink has no digest
    assert db.files["/usr/share/demo"].algo is None


def test_build_and_diff_by_environment() -> None:
    files = {"/var/lib/dpkg/status": b"Package: a\nStatus: install ok installed\nVersion: 1\n"}
    dists = ["/usr/lib/python3/dist-packages/packaging-23.0.dist-info",
             "/opt/venv/lib/python3.11/site-packages/packaging-26.4.dist-info"]  # fmt: skip
    got = versions(build(files, dists))
    assert got == {
        ("dpkg", "/"): {"a": "1"},
        ("python", "/usr"): {"packaging": "23.0"},
        ("python", "/opt/venv"): {"packaging": "26.4"},
    }
    assert packages_diff(got, got) == []
    assert join("/a/b", "../../../c") is None
