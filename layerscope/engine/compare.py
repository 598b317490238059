"""Compare two loaded images (or two states of one image) into one diff document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from layerscope.engine.content_jobs import Cancel
from layerscope.engine.hashing import ContentHasher
from layerscope.engine.image import Image
from layerscope.engine.loading import load_image
from layerscope.engine.owners import database_files, read_files
from layerscope.model.diff import DEFAULT_COMPARE, ContentEqual, TreeDiff, diff_trees
from layerscope.model.metadiff import meta_diff
from layerscope.model.packages import NAMES, Versions, build, packages_diff, versions
from layerscope.model.tree import FileTree
from layerscope.readers import OpenOptions


@dataclass(slots=True)
class ImageDiff:
    a: Image
    b: Image
    tree: TreeDiff
    meta: dict[str, Any]
    shared_layers: list[str] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)


def image_packages(img: Image) -> Versions:
    """The packages the image's databases list, by manager and environment (dpkg, apk,
    rpm; Python and conda per environment)."""
    files, dists = database_files(img.tree, NAMES)
    data = read_files(img, list(files.values()))
    return versions(build({p: data[n] for p, n in files.items() if n in data}, dists))


def shared_layers(a: Image, b: Image) -> list[str]:
    """Layers both images hold, recognised by content digest (diff_id, else blob digest)."""

    def keys(img: Image) -> list[str]:
        out = []
        for info in img.meta.layers[: img.upto + 1]:
            key = info.diff_id or info.id
            if key.startswith("sha256:"):
                out.append(key)
        return out

    kb = set(keys(b))
    return [k for k in keys(a) if k in kb]


def compare_images(
    a: Image,
    b: Image,
    compare: frozenset[str] | set[str] = DEFAULT_COMPARE,
    hasher: ContentHasher | None = None,
    with_meta: bool = True,
    tree: TreeDiff | None = None,
) -> ImageDiff:
    """`tree`: the tree diff computed already (layerscope.engine.pending.complete_diff,
    which compares contents with progress)."""
    if tree is None:
        tree = tree_diff(a, b, compare, hasher or ContentHasher())
    meta = meta_diff(a.meta, b.meta) if with_meta else {}
    packages = packages_diff(image_packages(a), image_packages(b))
    return ImageDiff(a, b, tree, meta, shared_layers(a, b), packages)


def tree_diff(
    a: Image,
    b: Image,
    compare: frozenset[str] | set[str],
    hasher: ContentHasher,
    same_member: ContentEqual | None = None,
    cancel: Cancel | None = None,
) -> TreeDiff:
    """diff_trees of two images, contents compared by digest. A first diff pass collects,
    without reading, the file pairs whose contents must be compared; their digests are
    then computed together, both images at once (stored forms first where both sides have
    them: hashing.ContentHasher.settle), and the second pass looks them up. `same_member`
    may settle a pair before any digest is looked at; `cancel` stops the reading early
    (the second pass then reads what is left one file at a time)."""

    def equal(pending: list[tuple[int, int]] | None) -> ContentEqual:
        by_digest = hasher.comparer(a, b, pending)
        return _either(same_member, by_digest)

    if "content" in compare:
        pending: list[tuple[int, int]] = []
        diff_trees(a.tree, b.tree, compare, equal(pending))
        if pending:
            unequal = hasher.settle(a, b, pending, cancel)
            if unequal is not None:  # every pair decided: the second pass looks them up
                decided: ContentEqual = lambda na, nb: (na, nb) not in unequal  # noqa: E731
                return diff_trees(a.tree, b.tree, compare, _either(same_member, decided))
    return diff_trees(a.tree, b.tree, compare, equal(None))


def _either(first: ContentEqual | None, then: ContentEqual) -> ContentEqual:
    if first is None:
        return then
    return lambda na, nb: first(na, nb) or then(na, nb)


def layer_states(ref: str, layer: int, opts: OpenOptions) -> tuple[Image, Image]:
    """The image as of layer N-1 and as of layer N (N-1 = an empty tree for N = 0)."""
    after = load_image(ref, opts, upto=layer)
    if after.upto == 0:
        return Image(ref, after.reader, after.meta, FileTree(), -1), after
    return load_image(ref, opts, upto=after.upto - 1), after
