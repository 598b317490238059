"""engine.owners: per file, the package that installed it and whether it is unchanged,
on databases written by the real tools (rpm) or laid out as dpkg lays them, read from a
directory and from a gzip layer tarball (one pass, not a read per database file)."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from layerscope.engine.loading import load_image
from layerscope.engine.owners import Owner, owners
from layerscope.readers import OpenOptions
from layerscope.readers.tar import inflate
from layerscope.readers.tar import reader as layer_tar
from tests.packages_support import dpkg_root, rpm_root

NO_CACHE = OpenOptions(use_cache=False)


def test_dpkg_owners_through_merged_usr(tmp_path: Path) -> None:
    root = dpkg_root(tmp_path / "root")
    (root / "etc/tool.conf").write_bytes(b"verbose = 2\n")  # a local edit of a conffile
    with load_image(str(root), NO_CACHE) as img:
        fo = owners(img)
        # dpkg lists /bin/tool; the file lives at /usr/bin/tool (/bin -> usr/bin)
        assert fo.owner("/usr/bin/tool") == Owner("tool", "dpkg", True)
        assert fo.owner("/bin/tool") == ("tool", "dpkg", True)
        package, manager, unchanged = fo.owner("/etc/tool.conf") or ("", "", None)
        assert (package, manager, unchanged) == ("tool", "dpkg", False)
        rec = fo.record("/etc/tool.conf")
        assert rec is not None and rec.config and rec.package.version == "1.0-1"
        assert fo.owner("/usr/share/keys/test.pem") == Owner("keys", "dpkg", True)
        assert fo.owner("/var/lib/dpkg/status") is None
        assert fo.owner("/usr") is not None and fo.owner("/usr") == ("keys", "dpkg", None)
        assert sorted(p.name for p in fo.packages) == ["keys", "tool"]
        assert fo.problems == []


def test_rpm_owners_and_verification(tmp_path: Path) -> None:
    root = rpm_root(tmp_path)
    (root / "usr/bin/demo").write_bytes(b"#!/bin/sh\necho tampered\n")
    with load_image(str(root), NO_CACHE) as img:
        fo = owners(img)
        assert fo.owner("/usr/bin/demo") == Owner("demo", "rpm", False)
        assert fo.owner("/etc/demo/demo.conf") == Owner("demo", "rpm", True)
        assert fo.owner("/usr/share/demo/link") == Owner("demo", "rpm", None)
        got = fo.matches("/usr/bin/demo", b"#!/bin/sh\necho hi\n")
        assert got is True  # the bytes as packaged


def test_owners_of_a_tar_layer_read_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = dpkg_root(tmp_path / "root")
    layer = tmp_path / "layer.tar.gz"
    subprocess.run(["tar", "-C", str(root), "-czf", str(layer), "."], check=True)
    passes: Counter[str] = Counter()
    real_open = inflate.open_decoded

    def counting(*args: object) -> object:
        passes["open"] += 1
        return real_open(*args)  # type: ignore[arg-type]

    with load_image(str(layer), NO_CACHE) as img:
        monkeypatch.setattr(layer_tar, "open_decoded", counting)
        fo = owners(img)
        assert passes["open"] == 1  # status, 2 lists and 2 md5sums: one pass
        fo.verify([img.find("/usr/bin/tool"), img.find("/usr/share/keys/test.pem")])
        assert passes["open"] == 2
        assert fo.owner("/usr/bin/tool") == Owner("tool", "dpkg", True)
        assert fo.owner("/usr/share/keys/test.pem") == Owner("keys", "dpkg", True)
        assert passes["open"] == 2  # verified ahead: nothing read again


def test_unreadable_database_is_a_problem_not_an_error(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "var/lib/rpm").mkdir(parents=True)
    (root / "var/lib/rpm/rpmdb.sqlite").write_bytes(b"SQLite format 3\0" + b"\xff" * 200)
    with load_image(str(root), NO_CACHE) as img:
        fo = owners(img)
        assert fo.packages == [] and len(fo) == 0
        assert fo.problems and "rpm database not read" in fo.problems[0]
