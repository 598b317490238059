"""Three build stages as squashfs images made by mksquashfs (gzip, zstd, xz), with many
hard links, a removed /usr/share/doc, a dpkg package whose files grow, a pip cache and a
secret by name; and the reference numbers every growth test compares with, computed from
what `unsquashfs` lists and extracts (inode numbers of the extracted tree: hard links once,
as `du` counts), never from layerscope.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_tool
from tests.reference import parse_lln

LINKS = 150  # names of the busybox-like binary (Singularity's busybox SIF has ~400)
DOC = {
    "usr/share/doc/pkga/README": 30_000,
    "usr/share/doc/pkga/changelog": 52_000,
    "usr/share/doc/pkgb/copyright": 21_000,
}


def _write(root: Path, rel: str, size: int, seed: int) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))


def _dpkg(root: Path, files: list[str]) -> None:
    """A dpkg database saying package `bigpkg` 1.0 installed `files`."""
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: bigpkg\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0\n\n"
    )
    dirs = sorted({"/" + str(Path(f).parent) for f in files} | {"/usr", "/usr/lib"})
    (info / "bigpkg.list").write_text("/.\n" + "".join(f"{d}\n" for d in dirs)
                                      + "".join(f"/{f}\n" for f in files))  # fmt: skip


def _stage1(root: Path) -> None:
    _write(root, "bin/busybox", 200_000, 1)
    for i in range(LINKS):
        where = "bin" if i % 3 else "sbin"
        (root / where).mkdir(exist_ok=True)
        os.link(root / "bin/busybox", root / where / f"cmd{i}")
    for rel, size in DOC.items():
        _write(root, rel, size, size)
    _write(root, "etc/app.conf", 1_000, 2)
    _write(root, "usr/lib/bigpkg/data.bin", 300_000, 3)
    _dpkg(root, ["usr/lib/bigpkg/data.bin"])


def _stage2(root: Path) -> None:
    shutil.rmtree(root / "usr/share/doc")
    _write(root, "opt/app/a.bin", 400_000, 4)
    _write(root, "opt/app/b.bin", 100_000, 5)
    _write(root, "etc/app.conf", 1_500, 6)  # rewritten, bigger
    (root / "usr/bin").mkdir()
    os.link(root / "bin/busybox", root / "usr/bin/extra")  # a new name, no new bytes
    _write(root, "usr/lib/bigpkg/more.bin", 250_000, 7)
    _dpkg(root, ["usr/lib/bigpkg/data.bin", "usr/lib/bigpkg/more.bin"])
    _write(root, "root/.cache/pip/wheels/pkg.whl", 120_000, 8)
    (root / "app").mkdir()
    (root / "app/.env").write_text("DEBUG=1\n")


def _stage3(root: Path) -> None:
    # rewritten in place: every one of its names now shows a bigger file
    with open(root / "bin/busybox", "wb") as f:
        f.write(random.Random(9).randbytes(210_000))
    (root / "opt/app/b.bin").unlink()
    # one name leaves the linked inode for content of its own: the inode stays (its other
    # names), the new content is 5,000 bytes more
    (root / "sbin/cmd0").unlink()
    _write(root, "sbin/cmd0", 5_000, 10)


@dataclass
class Stages:
    images: list[Path]
    roots: list[Path]  # the trees unsquashfs extracted from each image


def build_stages(work: Path) -> Stages:
    """s1.sqfs (gzip), s2.sqfs (zstd), s3.sqfs (xz), each the tree of the one before with
    its step applied."""
    mksquashfs = require_tool("mksquashfs")
    unsquashfs = require_tool("unsquashfs")
    src = work / "src"
    src.mkdir()
    images, roots = [], []
    for n, (step, comp) in enumerate(((_stage1, "gzip"), (_stage2, "zstd"), (_stage3, "xz"))):
        step(src)
        image = work / f"s{n + 1}.sqfs"
        subprocess.run(
            [mksquashfs, str(src), str(image), "-noappend", "-quiet", "-no-progress",
             "-comp", comp, "-all-root"],
            check=True, timeout=300,
        )  # fmt: skip
        out = work / f"s{n + 1}.root"
        subprocess.run([unsquashfs, "-q", "-n", "-d", str(out), str(image)],
                       check=True, capture_output=True, timeout=300)  # fmt: skip
        images.append(image)
        roots.append(out)
    return Stages(images, roots)


# -- the reference -------------------------------------------------------------------------

Files = dict[str, tuple[int, int]]  # path -> (size, inode) of every regular file


def listed_files(image: Path, root: Path, work: Path) -> Files:
    """The regular files `unsquashfs -lln` lists, with the inode of each in the tree
    `unsquashfs` extracted (its hard links are links there too)."""
    unsquashfs = require_tool("unsquashfs")
    listing = work / f"{image.name}.lln"
    with open(listing, "w") as f:
        subprocess.run([unsquashfs, "-lln", str(image)], stdout=f, check=True, timeout=300)
    out: Files = {}
    for path, row in parse_lln(listing).items():
        rel = path.removeprefix("squashfs-root")
        if row["type"] != "file":
            continue
        st = (root / rel.lstrip("/")).lstat()
        assert stat.S_ISREG(st.st_mode) and st.st_size == row["size"]
        out[rel] = (row["size"], st.st_ino)
    return out


def du_bytes(files: Files) -> int:
    """Regular-file bytes, an inode once (what `du --apparent-size` adds up)."""
    return sum(dict((ino, size) for size, ino in files.values()).values())


def reference_growth(before: Files, after: Files) -> tuple[int, int, int]:
    """(added, removed, modified) by the definitions of model.growth, from listings: an
    inode is added when none of its names was a file before, removed when none of its
    names is a file after; the rest of the size change is "modified"."""

    def by_inode(files: Files) -> dict[int, list[str]]:
        names: dict[int, list[str]] = {}
        for path, (_, ino) in files.items():
            names.setdefault(ino, []).append(path)
        return names

    added = sum(
        after[names[0]][0]
        for names in by_inode(after).values()
        if not any(p in before for p in names)
    )
    removed = sum(
        before[names[0]][0]
        for names in by_inode(before).values()
        if not any(p in after for p in names)
    )
    # the rest of the change in size as `du` counts it (model.growth's "modified")
    modified = du_bytes(after) - du_bytes(before) - added + removed
    return added, removed, modified
