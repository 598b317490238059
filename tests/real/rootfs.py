"""Real Debian root filesystems for the real-image tier, made by mmdebstrap.

A root filesystem is built once per test session (and, outside CI, kept between sessions
under ~/.cache/layerscope-tests, keyed by what was asked for), so every real-image test
shares the ~30-90 s it costs. Debian's mirror is reachable from CI.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import IN_CI, require_tool

SUITE = "bookworm"


def _cache_dir() -> Path | None:
    if IN_CI:
        return None  # a fresh machine: nothing to keep
    return Path(os.environ.get("LAYERSCOPE_TEST_CACHE", Path.home() / ".cache/layerscope-tests"))


def build_rootfs(dest: Path, include: tuple[str, ...] = (), variant: str = "minbase") -> Path:
    """A Debian `variant` root filesystem with `include` packages, as a directory at
    `dest` (returned). Built as root (CI, this machine) or in a user namespace."""
    mmdebstrap = require_tool("mmdebstrap")
    key = hashlib.sha256(f"{SUITE}|{variant}|{','.join(sorted(include))}".encode()).hexdigest()
    cache = _cache_dir()
    kept = cache / f"rootfs-{key[:16]}.tar" if cache is not None else None
    tarball = dest.with_suffix(".tar")
    if kept is not None and kept.exists():
        shutil.copyfile(kept, tarball)
    else:
        mode = "root" if os.geteuid() == 0 else "unshare"
        cmd = [mmdebstrap, f"--variant={variant}", f"--mode={mode}", "--quiet"]
        if include:
            cmd.append("--include=" + ",".join(include))
        subprocess.run([*cmd, SUITE, str(tarball)], check=True, timeout=1800)
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tarball, kept)
    dest.mkdir(parents=True, exist_ok=True)
    # tar keeps owners, modes, hard links and device nodes as mmdebstrap made them
    subprocess.run(["tar", "-C", str(dest), "--numeric-owner", "-xpf", str(tarball)], check=True)
    return dest
