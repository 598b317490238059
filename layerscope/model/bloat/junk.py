"""Caches and junk left in the final tree, and what could optionally be slimmed.

Three categories, so that a CI gate on caches fails on caches only:

  cache     downloads and indexes a package manager or a language tool keeps to go faster
            next time: apt archives and lists, dnf/yum, apk, zypper, pacman; pip, uv,
            poetry, npm, yarn, pnpm, Go's build and module download caches, cargo's
            registry; conda's `pkgs/`; anything else under a home's `~/.cache`; files left
            in /tmp and /var/tmp; byte-code (`__pycache__`) of sources no package installed
  junk      not needed at run time, not a cache: version-control data, build directories,
            core dumps
  slimming  shipped on purpose and optional to remove: the `__pycache__` of a package's
            own modules (Debian's packages compile them at install time), static
            libraries beside their shared ones, and (opt-in) documentation

Directory classes are reported once per matched directory with the bytes under it (hard
links once); a directory with no bytes (apt's `lock` and empty `partial/`) is no finding.
`classify` names the class of any path, so waste analyses can say "this deleted file was
apt cache".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from layerscope.model.bloat.waste import PathCache
from layerscope.model.entry import EntryKind
from layerscope.model.tree import ROOT, FileTree

CACHE, JUNK, SLIMMING = "cache", "junk", "slimming"
CLASSES: dict[str, str] = {
    "apt-cache": "apt package archives and caches (/var/cache/apt)",
    "apt-lists": "apt package lists (/var/lib/apt/lists)",
    "os-pkg-cache": "apk/yum/dnf/pacman/zypper package caches",
    "pip-cache": "pip cache (~/.cache/pip)",
    "uv-cache": "uv cache (~/.cache/uv)",
    "poetry-cache": "poetry cache (~/.cache/pypoetry)",
    "npm-cache": "npm/yarn/pnpm caches",
    "go-cache": "Go build and module download caches",
    "cargo-cache": "cargo registry and git checkouts (~/.cargo/registry, ~/.cargo/git)",
    "conda-pkgs": "conda/mamba package cache (pkgs/ next to conda-meta/)",
    "user-cache": "other caches under a home's ~/.cache",
    "pycache": "Python byte-code (__pycache__) of sources no package installed",
    "tmp": "files left in /tmp and /var/tmp",
    "git": "version-control data (.git, .svn, .hg)",
    "tagged-cache": "directories tagged as caches (CACHEDIR.TAG)",
    "build": "build leftovers (CMakeFiles/)",
    "core": "core dumps",
    "package-pycache": "byte-code of installed packages' modules (regenerated on demand)",
    "static-lib": "static libraries shipped next to the shared ones (libX.a beside libX.so)",
    "docs": "documentation, man and info pages (opt-in)",
}
CATEGORY: dict[str, str] = {
    **{cls: CACHE for cls in CLASSES},
    **{cls: JUNK for cls in ("git", "build", "core")},
    **{cls: SLIMMING for cls in ("package-pycache", "static-lib", "docs")},
}
DEFAULT_CLASSES = frozenset(CLASSES) - {"docs"}

_HOME = r"(?:/root|/home/[^/]+)"
# (class, regex on the directory path): the first match wins; matched directories are
# reported whole and not searched further.
_DIR_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("apt-cache", re.compile(r"^/var/cache/apt$")),
    ("apt-lists", re.compile(r"^/var/lib/apt/lists$")),
    ("os-pkg-cache", re.compile(r"^/var/cache/(apk|yum|dnf|zypp|pacman/pkg)$|^/etc/apk/cache$")),
    ("pip-cache", re.compile(r"/\.cache/pip$")),
    ("uv-cache", re.compile(r"/\.cache/uv$")),
    ("poetry-cache", re.compile(r"/\.cache/pypoetry$")),
    (
        "npm-cache",
        re.compile(r"(/\.npm/_cacache|/\.cache/yarn|/\.yarn/cache|/\.pnpm-store|/pnpm/store)$"),
    ),
    ("go-cache", re.compile(r"(/\.cache/go-build|/go/pkg/mod/cache)$")),
    ("cargo-cache", re.compile(r"/\.?cargo/(registry|git)$")),
    ("user-cache", re.compile(r"^" + _HOME + r"/\.cache/[^/]+$")),
    ("pycache", re.compile(r"/__pycache__$")),
    ("git", re.compile(r"/\.(git|svn|hg)$")),
    ("build", re.compile(r"/CMakeFiles$")),
    ("tmp", re.compile(r"^/(var/)?tmp$")),
    ("docs", re.compile(r"^/usr/(local/)?share/(doc|man|info|gtk-doc)$")),
]
_CONDA_HOMES = re.compile(r"(conda|mamba|miniforge|anaconda)[^/]*$", re.IGNORECASE)
_CORE = re.compile(r"^core(\.\d+)?$")
_STATIC = re.compile(r"^(.+)\.a$")

IsCore = Callable[[int], bool]
Owned = Callable[[str], bool]  # whether a package database lists this path


@dataclass(slots=True, frozen=True)
class JunkFinding:
    cls: str
    path: str
    bytes: int
    files: int
    layers: list[int]  # layers holding these bytes

    @property
    def category(self) -> str:
        return CATEGORY.get(self.cls, CACHE)


def classify(path: str) -> str | None:
    """The junk class of a path (file or directory) by where it sits, or None."""
    parts = path.split("/")
    for i in range(len(parts), 1, -1):
        prefix = "/".join(parts[:i])
        for cls, rule in _DIR_RULES:
            if rule.search(prefix):
                return cls
    name = parts[-1]
    if _CORE.match(name):
        return "core"
    return None


def find_junk(
    tree: FileTree,
    classes: Iterable[str] = DEFAULT_CLASSES,
    is_core: IsCore | None = None,
    owned: Owned | None = None,
) -> list[JunkFinding]:
    """Junk in the live tree, biggest first. `is_core(node)` may confirm a core dump by its
    bytes (an ELF core header); without it the name decides. `owned(path)` tells a
    package's byte-code (slimming) from byte-code of sources no package installed."""
    wanted = frozenset(classes)
    out: list[JunkFinding] = []
    path_of = PathCache(tree)
    stack = [ROOT]
    while stack:
        d = stack.pop()
        kids = tree.kids(d) or {}
        names = set(kids)
        for name, node in kids.items():
            kind = tree.kind[node]
            if kind == EntryKind.DIR:
                cls = _dir_class(tree, node, path_of(node), name)
                if cls == "pycache" and owned is not None and _packaged(tree, node, path_of, owned):
                    cls = "package-pycache"
                if cls is None:
                    stack.append(node)
                elif cls in wanted:
                    _add_dir(tree, node, cls, path_of(node), out)
                continue
            if kind != EntryKind.FILE or tree.size[node] == 0:
                continue
            cls = _file_class(name, names)
            if cls == "core" and is_core is not None and not is_core(node):
                cls = None
            if cls is not None and cls in wanted:
                out.append(
                    JunkFinding(cls, path_of(node), tree.size[node], 1, [tree.source_layer(node)])
                )
    out.sort(key=lambda j: (-j.bytes, j.path))
    return out


def _dir_class(tree: FileTree, node: int, path: str, name: str) -> str | None:
    for cls, rule in _DIR_RULES:
        if rule.search(path):
            return cls
    kids = tree.kids(node) or {}
    if "CACHEDIR.TAG" in kids:
        return "tagged-cache"
    if name == "pkgs":
        parent = tree.parent[node]
        if "conda-meta" in (tree.kids(parent) or {}) or _CONDA_HOMES.search(tree.name[parent]):
            return "conda-pkgs"
    return None


def _packaged(tree: FileTree, pycache: int, path_of: PathCache, owned: Owned) -> bool:
    """A __pycache__ of a package: a package lists a module beside it, or its own files
    (pip's RECORD and conda list the .pyc files they install)."""
    parent = tree.parent[pycache]
    for name, node in (tree.kids(parent) or {}).items():
        if name.endswith(".py") and owned(path_of(node)):
            return True
    return any(owned(path_of(node)) for node in (tree.kids(pycache) or {}).values())


def _file_class(name: str, siblings: set[str]) -> str | None:
    if _CORE.match(name):
        return "core"
    m = _STATIC.match(name)
    if m is not None:
        stem = m.group(1) + ".so"
        if stem in siblings or any(s.startswith(stem + ".") for s in siblings):
            return "static-lib"
    return None


def _add_dir(tree: FileTree, top: int, cls: str, path: str, out: list[JunkFinding]) -> None:
    total = tree.rolled_size(top)
    if total == 0:
        return
    files = 0
    layers: set[int] = set()
    for node in tree.walk(top):
        if tree.kind[node] == EntryKind.FILE and tree.size[node] > 0:
            files += 1
            layers.add(tree.source_layer(node))
    out.append(JunkFinding(cls, path, total, files, sorted(layers)))
