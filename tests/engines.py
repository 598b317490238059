"""Real podman/buildah stores and a real Docker-API server, built by the tools themselves.

`build_store(dir, driver)` makes a store under `dir/root` (runroot `dir/run`) with the
driver asked for, as a user's own `--root/--runroot` store, and two images in it:
  localhost/cs-base:1  one layer: dirs, files, a hard link pair, symlinks, a setuid file,
                       a file owned by 1000:1000, a fifo, a user xattr, an empty file
  localhost/cs-app:1   cs-base plus a layer that deletes a file (whiteout), replaces a
                       directory's contents (opaque), rewrites, chmods and chowns files,
                       adds files and a hard link
The layers are made by `buildah mount` + commit (no RUN: no runtime, no network), so
buildah itself writes the whiteouts, tar-split data and manifests. `spec()` names a store
by its root only (the reference carries no storage options), as `layerscope` needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require, require_tool

BASE, APP = "localhost/cs-base:1", "localhost/cs-app:1"
FUSE = "/usr/bin/fuse-overlayfs"


@dataclass(frozen=True)
class StoreInfo:
    root: Path
    runroot: Path
    driver: str
    variant: str = ""  # "fuse-overlayfs": the overlay driver through that mount program

    def spec(self, name: str) -> str:
        """skopeo's containers-storage reference to `name` in this store."""
        return f"containers-storage:[{self.driver}@{self.root}+{self.runroot}]{name}"

    @property
    def fuse(self) -> bool:
        return self.variant == "fuse-overlayfs"

    def args(self) -> list[str]:
        """The global options podman and buildah take to use this store."""
        extra = ["--storage-opt", f"overlay.mount_program={FUSE}"] if self.fuse else []
        return ["--root", str(self.root), "--runroot", str(self.runroot),
                "--storage-driver", self.driver, *extra]  # fmt: skip


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(
        args, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout.strip()


def _base_tree(m: Path) -> None:
    for d in ("etc", "usr/bin", "usr/share/doc/pkg", "var/cache/apt", "opt/app/conf"):
        (m / d).mkdir(parents=True, exist_ok=True)
    (m / "etc/os-release").write_text('NAME="cstore test"\nID=cstore\n')
    (m / "etc/motd").write_text("welcome\n")
    (m / "usr/bin/tool").write_bytes(b"\x7fELF" + bytes(range(256)) * 40)
    os.chmod(m / "usr/bin/tool", 0o4755)
    os.link(m / "usr/bin/tool", m / "usr/bin/tool-again")
    os.symlink("tool", m / "usr/bin/tool-link")
    os.symlink("../../etc/os-release", m / "usr/share/os-release")
    (m / "usr/share/doc/pkg/README").write_text("docs\n" * 300)
    (m / "var/cache/apt/pkgcache.bin").write_bytes(b"\0" * 5000)
    (m / "opt/app/conf/a.conf").write_text("a=1\n")
    (m / "opt/app/conf/b.conf").write_text("b=2\n")
    (m / "opt/app/empty").write_bytes(b"")
    (m / "opt/app/owned").write_text("owned by 1000\n")
    os.chown(m / "opt/app/owned", 1000, 1000)
    os.mkfifo(m / "opt/app/fifo")
    os.setxattr(m / "opt/app/conf/a.conf", "user.layerscope.test", b"xattr-value")


def _app_changes(m: Path) -> None:
    os.unlink(m / "etc/motd")  # a whiteout
    shutil.rmtree(m / "opt/app/conf")  # removed and made again: an opaque directory
    (m / "opt/app/conf").mkdir()
    (m / "opt/app/conf/c.conf").write_text("c=3\n")
    shutil.rmtree(m / "var/cache/apt")  # a whole directory deleted
    with open(m / "etc/os-release", "a") as f:
        f.write("VERSION=2\n")
    os.chmod(m / "usr/share/doc/pkg/README", 0o600)
    os.chown(m / "opt/app/empty", 33, 33)
    (m / "opt/app/new.bin").write_bytes(os.urandom(3000))
    os.link(m / "opt/app/new.bin", m / "opt/app/new-link.bin")


def build_store(base: Path, driver: str) -> StoreInfo:
    """Build the two images in a fresh store under `base` (as root: buildah mount).
    `driver` "fuse-overlayfs" is the overlay driver through fuse-overlayfs, as rootless
    stores run it on kernels without unprivileged overlay mounts."""
    buildah = require_tool("buildah")
    require(os.geteuid() == 0, "building store fixtures needs root (buildah mount)")
    if driver == "fuse-overlayfs":
        require_tool("fuse-overlayfs")
        info = StoreInfo(base / "root", base / "run", "overlay", driver)
    else:
        info = StoreInfo(base / "root", base / "run", driver)
    env = {"BUILDAH_ISOLATION": "chroot", "STORAGE_OPTS": ""}
    b = [buildah, *info.args()]
    for name, steps in ((BASE, _base_tree), (APP, _app_changes)):
        src = "scratch" if name == BASE else BASE
        ctr = _run(*b, "from", "--pull-never", src, env=env)
        mnt = Path(_run(*b, "mount", ctr, env=env))
        steps(mnt)
        _run(*b, "umount", ctr, env=env)
        _run(*b, "config", "--cmd", "/usr/bin/tool", "--label", f"stage={name}", ctr, env=env)
        _run(*b, "commit", "--quiet", ctr, name, env=env)
        _run(*b, "rm", ctr, env=env)
    return info


def podman_save(info: StoreInfo, name: str, dest: Path, fmt: str = "docker-archive") -> Path:
    podman = require_tool("podman")
    _run(podman, *info.args(), "save", "--quiet", "--format", fmt, "-o", str(dest), name)
    return dest


def skopeo_copy(info: StoreInfo, name: str, dest: str) -> None:
    skopeo = require_tool("skopeo")
    _run(skopeo, "copy", "--quiet", info.spec(name), dest)


def umoci_unpack(layout: Path, tag: str, bundle: Path) -> Path:
    umoci = require_tool("umoci")
    _run(umoci, "unpack", "--image", f"{layout}:{tag}", str(bundle))
    return bundle / "rootfs"
