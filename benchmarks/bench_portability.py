"""The portability report on a ~1.5 GB image with a compiler and the Python scientific
stack, cold and cached, against reading the image's contents once.

The image: a Debian bookworm root filesystem made by mmdebstrap (gcc, g++, gfortran,
Python 3 with numpy, scipy, pandas, matplotlib, scikit-learn, sympy; the distribution's
files, which are not decoded) plus the scientific wheels from PyPI unpacked into
/opt/venv (numpy, scipy, pandas, scikit-learn: not the distribution's, decoded), packed
with mksquashfs. Building it needs the network (Debian's mirror, PyPI) once; it is kept
in --work-dir.

Rows: `layerscope inspect --portability --json` with --no-cache (cold, nothing kept),
with an empty index cache (cold, facts written), with that cache (cached); the
reference is `sqfs2tar IMAGE > /dev/null` (squashfs-tools-ng), which reads and inflates
every file once.

    python benchmarks/bench_portability.py [--repeat R] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_open import Timing, run_cli, run_tool

DEBIAN = ("gcc", "g++", "gfortran", "make", "python3", "python3-numpy", "python3-scipy",
          "python3-pandas", "python3-matplotlib", "python3-sklearn", "python3-sympy",
          "libopenblas0")  # fmt: skip
WHEELS = ("numpy==1.26.4", "scipy==1.11.4", "pandas==2.1.4", "scikit-learn==1.3.2")
SITE = "opt/venv/lib/python3.11/site-packages"


@dataclass
class PortabilityResult:
    image_bytes: int
    files: int
    elf_files: int
    decoded: int
    decoded_bytes: int
    reference: Timing = field(default_factory=Timing)
    no_cache: Timing = field(default_factory=Timing)
    first: Timing = field(default_factory=Timing)
    cached: Timing = field(default_factory=Timing)


def _rootfs(work: Path) -> Path:
    root = work / "sci-root"
    if (root / "usr").is_dir():
        return root
    tar = work / "sci-rootfs.tar"
    if not tar.exists():
        cmd = ["mmdebstrap", "--variant=minbase", "--mode=root", "--quiet",
               "--include=" + ",".join(DEBIAN), "bookworm", str(tar)]  # fmt: skip
        subprocess.run(cmd, check=True)
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-xpf", str(tar)], check=True)
    wheels = work / "wheels"
    wheels.mkdir(exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps",
         "--python-version", "3.11", "--platform", "manylinux2014_x86_64", "-d", str(wheels),
         *WHEELS],
        check=True,
    )  # fmt: skip
    site = root / SITE
    site.mkdir(parents=True)
    for whl in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(whl) as z:
            z.extractall(site)
    return root


def build(work: Path) -> Path:
    image = work / "sci.sqfs"
    if not image.exists():
        root = _rootfs(work)
        subprocess.run(
            ["mksquashfs", str(root), str(image), "-noappend", "-quiet", "-no-progress",
             "-comp", "zstd"],
            check=True,
        )  # fmt: skip
    return image


def bench_portability(work: Path, reps: int) -> PortabilityResult:
    image = build(work)
    sqfs2tar = shutil.which("sqfs2tar")
    if sqfs2tar is None:
        raise SystemExit("sqfs2tar (squashfs-tools-ng) is needed as the reference")
    args = ["inspect", "--portability", "--json", str(image)]
    with tempfile.TemporaryDirectory(prefix="lsbench-port-") as tmp:
        doc = subprocess.run(
            [sys.executable, "-m", "layerscope", *args, "--no-cache"],
            capture_output=True,
            check=True,
            env={**os.environ, "XDG_CACHE_HOME": tmp},
        ).stdout
        report = json.loads(doc)
        listing = subprocess.run(
            [sys.executable, "-m", "layerscope", "ls", "--json", "--no-cache", str(image)],
            capture_output=True,
            check=True,
        ).stdout
        entries = json.loads(listing)["entries"]
        result = PortabilityResult(
            image_bytes=sum(e["size"] for e in entries if e["type"] == "file"),
            files=sum(1 for e in entries if e["type"] == "file"),
            elf_files=report["elf_files"],
            decoded=report["isa"]["decoded_files"],
            decoded_bytes=report["isa"]["decoded_bytes"],
        )
        for n in range(reps):
            result.reference.add(run_tool([sqfs2tar, str(image)]))
            result.no_cache.add(*run_cli([*args, "--no-cache"], f"{tmp}/none{n}"))
            cache = f"{tmp}/cache{n}"
            result.first.add(*run_cli(args, cache))
            result.cached.add(*run_cli(args, cache))
    return result


def rows(r: PortabilityResult) -> list[tuple[str, str, float, float, str, bool | None]]:
    ref = r.reference.median
    return [
        ("portability: cold, --no-cache", "sqfs2tar (read once)", ref, r.no_cache.median,
         "(report)", None),
        ("portability: cold, cache written", "sqfs2tar (read once)", ref, r.first.median,
         "(report)", None),
        ("portability: cached", "sqfs2tar (read once)", ref, r.cached.median,
         "<= 0.3x", r.cached.median <= 0.3 * ref),
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "layerscope-bench")  # fmt: skip
    a = ap.parse_args()
    a.work_dir.mkdir(parents=True, exist_ok=True)
    r = bench_portability(a.work_dir, a.repeat)
    print(f"image: {r.image_bytes / 1e9:.2f} GB in {r.files:,} files; {r.elf_files:,} ELF "
          f"files, {r.decoded:,} decoded ({r.decoded_bytes / 1e6:.0f} MB of code)")  # fmt: skip
    for name, against, ref, ours, goal, _ in rows(r):
        print(f"{name:<36}{against:<22}{ref:>8.2f}{ours:>9.2f}{ours / ref:>7.2f}x  {goal}")


if __name__ == "__main__":
    main()
