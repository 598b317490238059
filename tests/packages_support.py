"""Package databases made by the real tools, for the owners tests: an rpm database by
rpmbuild + `rpm --root -i` (rpm 4.18's sqlite backend, as RHEL 9 / Rocky 9 use), and a
dpkg database laid out as dpkg lays it (status, info/*.list, info/*.md5sums)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from tests.conftest import require_tool

SPEC = """Name: demo
Version: 1.2
Release: 3
Epoch: 1
Summary: demo
License: MIT
BuildArch: noarch
%description
demo
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc/demo %{buildroot}/usr/share/demo
printf '#!/bin/sh\\necho hi\\n' > %{buildroot}/usr/bin/demo
printf 'key = value\\n' > %{buildroot}/etc/demo/demo.conf
printf -- '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n' \
  > %{buildroot}/usr/share/demo/test-key.pem
printf -- '-----END PRIVATE KEY-----\\n' >> %{buildroot}/usr/share/demo/test-key.pem
ln -s ../../bin/demo %{buildroot}/usr/share/demo/link
%files
/usr/bin/demo
%config(noreplace) /etc/demo/demo.conf
/usr/share/demo
"""


def rpm_root(tmp: Path) -> Path:
    """A root filesystem holding one rpm package `demo` installed by rpm itself, with
    its database at /var/lib/rpm/rpmdb.sqlite."""
    rpmbuild = require_tool("rpmbuild")
    rpm = require_tool("rpm")
    top = tmp / "rpmbuild"
    (top / "SPECS").mkdir(parents=True)
    (top / "SPECS/demo.spec").write_text(SPEC)
    subprocess.run(
        [rpmbuild, "--define", f"_topdir {top}", "-bb", str(top / "SPECS/demo.spec")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    root = tmp / "root"
    root.mkdir()
    packages = sorted((top / "RPMS").rglob("*.rpm"))
    subprocess.run(
        [rpm, "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts",
         *map(str, packages)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return root


def dpkg_root(root: Path, merged_usr: bool = True) -> Path:
    """A root with two dpkg packages: `tool` (a binary listed as /bin/tool, a conffile)
    and `keys` (a test key under /usr/share), on a merged-/usr layout when asked."""
    files = {
        "usr/bin/tool": b"\x7fELF tool binary\n",
        "etc/tool.conf": b"verbose = 1\n",
        "usr/share/keys/test.pem": b"-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n"
        b"-----END RSA PRIVATE KEY-----\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    if merged_usr:
        (root / "bin").symlink_to("usr/bin")
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    md5 = {rel: hashlib.md5(data).hexdigest() for rel, data in files.items()}
    (root / "var/lib/dpkg/status").write_text(
        "Package: tool\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n"
        f"Conffiles:\n /etc/tool.conf {md5['etc/tool.conf']}\n\n"
        "Package: keys\nStatus: install ok installed\nArchitecture: all\nVersion: 2.0\n\n"
        "Package: gone\nStatus: deinstall ok config-files\nVersion: 0.1\n"
    )
    (info / "tool.list").write_text("/.\n/bin\n/bin/tool\n/etc\n/etc/tool.conf\n")
    (info / "tool.md5sums").write_text(f"{md5['usr/bin/tool']}  bin/tool\n")
    (info / "keys.list").write_text("/.\n/usr\n/usr/share\n/usr/share/keys\n"
                                    "/usr/share/keys/test.pem\n")  # fmt: skip
    (info / "keys.md5sums").write_text(
        f"{md5['usr/share/keys/test.pem']}  usr/share/keys/test.pem\n"
    )
    return root
