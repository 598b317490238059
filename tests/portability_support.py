"""Real binaries and real images for the portability tests: programs compiled with
Debian's gcc at each x86-64 level, Debian packages fetched with apt-get (once per
session; outside CI kept under ~/.cache/layerscope-tests), root filesystems with a real
dpkg database (`dpkg --root`), and the images made of them by real tools (mksquashfs +
siftool for SIFs, umoci for OCI layouts, plain directories)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.conftest import IN_CI, require, require_tool

# Exercises each level: popcount is POPCNT from x86-64-v2 on, the float loop is
# vectorised with AVX2/FMA at -v3 and AVX-512 with -mavx512f (gcc -O3).
PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  unsigned long x = strtoul(argc > 1 ? argv[1] : "12345", 0, 10);
  float a[256], b[256];
  for (int i = 0; i < 256; i++) { a[i] = i * (float)x; b[i] = a[i] * 0.5f + 1.0f; }
  for (int i = 0; i < 256; i++) a[i] = a[i] * b[i] + a[(i + 1) & 255];
  printf("%d %f\n", __builtin_popcountl(x), a[argc]);
  return 0;
}
"""
# Picks an AVX2 loop or a plain one at run time (libgcc's __builtin_cpu_supports)
DISPATCH = r"""
#include <stdio.h>
__attribute__((target("avx2"))) static int sq_avx2(const int *a, int n)
{ int s = 0; for (int i = 0; i < n; i++) s += a[i] * a[i]; return s; }
static int sq(const int *a, int n)
{ int s = 0; for (int i = 0; i < n; i++) s += a[i] * a[i]; return s; }
int main(int argc, char **argv) {
  int a[1024]; for (int i = 0; i < 1024; i++) a[i] = i * argc;
  __builtin_cpu_init();
  printf("%d\n", __builtin_cpu_supports("avx2") ? sq_avx2(a, 1024) : sq(a, 1024));
  return 0;
}
"""
# gcc flags -> the level the report must name
LEVELS: dict[str, tuple[list[str], str]] = {
    "base": (["-march=x86-64"], "x86-64"),
    "v2": (["-march=x86-64-v2"], "x86-64-v2"),
    "v3": (["-march=x86-64-v3"], "x86-64-v3"),
    "avx512f": (["-mavx512f"], "x86-64-v4"),
    # baseline code that only the GNU property note says needs v3 (ld -z x86-64-v3)
    "note": (["-march=x86-64", "-Wl,-z,x86-64-v3"], "x86-64-v3"),
}


def cache_dir(kind: str) -> Path | None:
    """Where downloads are kept between sessions (None in CI: a fresh machine)."""
    if IN_CI:
        return None
    base = os.environ.get("LAYERSCOPE_TEST_CACHE", Path.home() / ".cache/layerscope-tests")
    return Path(base) / kind


def compile_c(source: str, out: Path, *flags: str, libs: tuple[str, ...] = ()) -> Path:
    gcc = require_tool("gcc")
    src = out.with_suffix(".c")
    src.write_text(source)
    cmd = [gcc, "-O3", *flags, str(src), *libs, "-o", str(out)]
    subprocess.run(cmd, check=True, timeout=120)
    return out


def build_programs(dest: Path) -> dict[str, Path]:
    """One program per LEVELS entry, plus `dispatch`."""
    dest.mkdir(parents=True, exist_ok=True)
    out = {name: compile_c(PROGRAM, dest / name, *flags) for name, (flags, _) in LEVELS.items()}
    out["dispatch"] = compile_c(DISPATCH, dest / "dispatch")
    return out


def download_debs(dest: Path, packages: Iterable[str]) -> dict[str, Path]:
    """`apt-get download` each package (name or name:arch) into `dest` (reused from the
    cache outside CI); -> {package: .deb}."""
    apt = require_tool("apt-get")
    names = sorted(packages)
    key = hashlib.sha256(",".join(names).encode()).hexdigest()[:16]
    kept = cache_dir("debs")
    where = kept / key if kept is not None else dest
    where.mkdir(parents=True, exist_ok=True)
    os.chmod(where, 0o777)  # apt's _apt user writes there when it can
    if not list(where.glob("*.deb")):
        done = subprocess.run(
            [apt, "download", *names], cwd=where, timeout=600, capture_output=True, text=True
        )
        # Debian's mirror and arm64 package lists (`dpkg --add-architecture arm64`) are
        # CI's (.ci/run); a laptop without them skips
        last = (done.stderr.strip().splitlines() or [""])[-1]
        require(done.returncode == 0, f"apt-get download {' '.join(names)}: {last}")
    out = {}
    for name in names:
        base, _, arch = name.partition(":")
        pattern = f"{base}_*_{arch}.deb" if arch else f"{base}_*.deb"
        got = sorted(where.glob(pattern))
        assert got, f"apt-get download {name} left no .deb in {where}"
        out[name] = got[0]
    return out


def deb_field(deb: Path, field: str) -> str:
    dpkg_deb = require_tool("dpkg-deb")
    return subprocess.run(
        [dpkg_deb, "-f", str(deb), field], check=True, capture_output=True, text=True
    ).stdout.strip()


def unpack_debs(root: Path, debs: Iterable[Path]) -> Path:
    """The packages' files under `root`, without a package database (dpkg-deb -x)."""
    dpkg_deb = require_tool("dpkg-deb")
    root.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        subprocess.run([dpkg_deb, "-x", str(deb), str(root)], check=True, timeout=120)
    return root


def install_debs(root: Path, debs: Iterable[Path]) -> Path:
    """The packages installed under `root` by dpkg itself (`dpkg --root`): files, the
    status database, info/*.list and *.md5sums, as on a real system. Dependencies are
    not installed (--force-depends); maintainer scripts run outside the root."""
    dpkg = require_tool("dpkg")
    admin = root / "var/lib/dpkg"
    (admin / "info").mkdir(parents=True, exist_ok=True)
    (admin / "updates").mkdir(exist_ok=True)
    for name in ("status", "available"):
        (admin / name).touch()
    cmd = [dpkg, f"--root={root}", "--force-depends", "--force-script-chrootless"]
    if os.geteuid() != 0:
        cmd.append("--force-not-root")
    subprocess.run([*cmd, "-i", *map(str, debs)], check=True, timeout=300, capture_output=True)
    return root


def add_files(root: Path, files: Mapping[str, Path | bytes], mode: int = 0o755) -> None:
    """Put files at absolute paths inside `root`."""
    for inner, src in files.items():
        dest = root / inner.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, bytes):
            dest.write_bytes(src)
        else:
            shutil.copyfile(src, dest)
        dest.chmod(mode)


def make_sif(root: Path, out: Path, arch: int = 2) -> Path:
    """A SIF of `root`: mksquashfs, then siftool new + add (a primary system partition,
    `arch` as siftool numbers it: 2 amd64, 4 arm64)."""
    mksquashfs, siftool = require_tool("mksquashfs"), require_tool("siftool")
    sqfs = out.with_suffix(".sqfs")
    subprocess.run(
        [mksquashfs, str(root), str(sqfs), "-noappend", "-quiet", "-no-progress"],
        check=True,
        timeout=300,
    )
    subprocess.run([siftool, "new", str(out)], check=True, capture_output=True)
    subprocess.run(
        [siftool, "add", str(out), str(sqfs), "--datatype", "4", "--parttype", "2",
         "--partfs", "1", "--partarch", str(arch), "--groupid", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


def layer_tar(files: dict[str, bytes], mode: int = 0o755) -> bytes:
    """An uncompressed layer tarball holding `files` (parent directories included)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        dirs: set[str] = set()
        for inner in sorted(files):
            parts = inner.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tf.addfile(info)
            info = tarfile.TarInfo(inner.strip("/"))
            info.size, info.mode = len(files[inner]), mode
            tf.addfile(info, io.BytesIO(files[inner]))
    return buf.getvalue()


def make_oci(layout: Path, layers: list[bytes], tag: str = "latest") -> str:
    """An OCI layout whose image has these layer tarballs, added by umoci."""
    umoci = require_tool("umoci")
    subprocess.run([umoci, "init", "--layout", str(layout)], check=True, capture_output=True)
    image = f"{layout}:{tag}"
    subprocess.run([umoci, "new", "--image", image], check=True, capture_output=True)
    for n, data in enumerate(layers):
        tar = layout.parent / f"{layout.name}-layer{n}.tar"
        tar.write_bytes(data)
        subprocess.run(
            [umoci, "raw", "add-layer", "--image", image, str(tar)],
            check=True,
            capture_output=True,
        )
    return f"oci:{layout}:{tag}"


def shared_object(out: Path, soname: str, text: str = "", version_script: str = "") -> Path:
    """A shared object with this soname, holding `text` as a string (a library's banner)
    and, with `version_script`, symbol versions."""
    gcc = require_tool("gcc")
    src = out.with_name(out.name + ".c")
    banner = text.replace("\\", "\\\\").replace('"', '\\"')
    src.write_text(
        f'__attribute__((used)) const char banner[] = "{banner}";\n'
        "int stand_in_function(void) { return 42; }\n"
        "int newer_function(void) { return 7; }\n"
    )
    cmd = [gcc, "-shared", "-fPIC", f"-Wl,-soname,{soname}", str(src), "-o", str(out)]
    if version_script:
        vs = out.with_name(out.name + ".map")
        vs.write_text(version_script)
        cmd.insert(-2, f"-Wl,--version-script={vs}")
    subprocess.run(cmd, check=True, timeout=120)
    return out


# CUDA is not in Debian main: stand-ins with the real libraries' sonames and file names
# (as NVIDIA's packages install them) and NCCL's banner.
CUDA_STAND_INS: dict[str, tuple[str, str]] = {
    "/usr/local/cuda-12.2/targets/x86_64-linux/lib/libcudart.so.12.2.140": (
        "libcudart.so.12", ""),
    "/usr/local/cuda-12.2/targets/x86_64-linux/lib/libcublas.so.12.2.5.6": (
        "libcublas.so.12", ""),
    "/usr/local/cuda-12.2/targets/x86_64-linux/lib/stubs/libcuda.so": ("libcuda.so.1", ""),
    "/usr/local/cuda-12.2/compat/libcuda.so.535.104.05": ("libcuda.so.1", ""),
    "/usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.2": ("libcudnn.so.8", ""),
    "/usr/lib/x86_64-linux-gnu/libnccl.so.2.18.3": (
        "libnccl.so.2", "NCCL version 2.18.3+cuda12.2"),
    # the driver's own library, which `apptainer --nv` binds from the host
    "/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05": ("libcuda.so.1", ""),
}  # fmt: skip


def cuda_stand_ins(build: Path) -> dict[str, Path]:
    build.mkdir(parents=True, exist_ok=True)
    return {
        inner: shared_object(build / inner.strip("/").replace("/", "_"), soname, text)
        for inner, (soname, text) in CUDA_STAND_INS.items()
    }
