"""engine.owners on a real Debian minbase: every file dpkg-query says a package owns has
that owner, and `dpkg --verify` (dpkg's own md5 check) agrees on what is unchanged."""

from __future__ import annotations

import subprocess
from pathlib import Path

from layerscope.engine.loading import load_image
from layerscope.engine.owners import owners
from layerscope.model.entry import EntryKind
from layerscope.readers import OpenOptions
from tests.conftest import require_tool


def test_owners_equal_dpkg_query(minbase: Path) -> None:
    query = require_tool("dpkg-query")
    admin = str(minbase / "var/lib/dpkg")
    listed = subprocess.run(
        [query, f"--admindir={admin}", "-W", "-f", "${binary:Package}\\t${db-fsys:Files}\\n"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    with load_image(str(minbase), OpenOptions(use_cache=False)) as img:
        fo = owners(img)
        tree = img.tree
        checked = 0
        package = ""
        for line in listed.splitlines():
            if not line.startswith(" "):
                package = line.split("\t")[0].split(":")[0]
                continue
            path = line.strip()
            rec = fo.record(path)
            assert rec is not None, path
            node = tree.lookup(path)
            if node is not None and tree.kind[node] == EntryKind.FILE:
                assert rec.package.name == package, path
                checked += 1
        assert checked > 3000
        assert len({p.name for p in fo.packages if p.manager == "dpkg"}) > 80
        # dpkg --verify: no output for an untouched system, one line per changed file
        verify = subprocess.run(
            ["dpkg", f"--root={minbase}", "--verify"], capture_output=True, text=True
        ).stdout.split("\n")
        changed = {line.split()[-1] for line in verify if line.strip()}
        for path in ("/usr/bin/bash", "/usr/bin/dpkg", "/usr/lib/os-release"):
            got = fo.owner(path)
            assert got is not None and got.unchanged is (path not in changed), path
