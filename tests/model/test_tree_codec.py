"""FileTree <-> bytes: a decoded tree equals the original in every column, dict, list and
walk order, node ids included; malformed bytes raise TreeCodecError and nothing else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerscope.engine.loading import load_image
from layerscope.model import sizes
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.layers import WhiteoutStyle, apply_layer, apply_layers
from layerscope.model.tree import FileTree
from layerscope.model.tree_codec import (
    TreeCodecError,
    decode_tree,
    encode_tree,
    pack_strs,
    unpack_strs,
)
from layerscope.readers import OpenOptions
from tests.conftest import FIXTURES
from tests.model.test_layers_property import layer

ATTRS = (
    "parent", "name", "kind", "mode", "uid", "gid", "size", "mtime", "layer", "loc",
    "children", "target", "rdev", "xattrs", "link_group", "content_layer", "shadows", "prev",
    "deletions", "layer_count",
)  # fmt: skip


def roundtrip(tree: FileTree) -> FileTree:
    return decode_tree(b"".join(bytes(p) for p in encode_tree(tree)))


def assert_same(a: FileTree, b: FileTree) -> None:
    for attr in ATTRS:
        assert getattr(a, attr) == getattr(b, attr), attr
        assert type(getattr(a, attr)) is type(getattr(b, attr)), attr
    for attr in ("parent", "mode", "uid", "gid", "size", "mtime", "layer", "loc"):
        assert getattr(a, attr).typecode == getattr(b, attr).typecode, attr
    # dict order too: whatever iterates children or provenance sees the same sequence
    for node, kids in a.children.items():
        assert list(kids.items()) == list(b.children[node].items())
    assert list(a.children) == list(b.children)
    assert list(a.walk()) == list(b.walk())
    assert [a.path(n) for n in a.walk()] == [b.path(n) for n in b.walk()]
    assert a.total_size() == b.total_size()
    assert a.link_counts() == b.link_counts()


FIXTURE_IMAGES = [
    "sif/alpine-like-base.sif",
    "sif/with-overlay.sif",
    "sif/stage2.sif",
    "sqfs/tar2sqfs-ng.sqfs",
    "oci/app-layout:1.1",
    "docker/app-1.1.docker-archive.tar",
    "oci/layers/app-1.0-layer3-whiteouts.tar.gz",
]


@pytest.mark.parametrize("name", FIXTURE_IMAGES)
def test_fixture_trees_roundtrip(name: str) -> None:
    prefix = "oci:" if name.startswith("oci/app-layout") else ""
    img = load_image(prefix + str(FIXTURES / name), OpenOptions(use_cache=False))
    try:
        assert_same(img.tree, roundtrip(img.tree))
    finally:
        img.close()


def _rich_tree() -> FileTree:
    """Every rare attribute and provenance record at least once."""
    tree = FileTree()
    base = [
        Entry("/etc", EntryKind.DIR, 0o755, mtime=5),
        Entry("/etc/passwd", EntryKind.FILE, 0o644, size=12, loc=100, ino=7),
        Entry("/etc/passwd-hard", EntryKind.FILE, 0o644, size=12, loc=100, ino=7),
        Entry("/dev", EntryKind.DIR),
        Entry("/dev/null", EntryKind.CHAR, 0o666, rdev=(1, 3)),
        Entry("/dev/sda", EntryKind.BLOCK, 0o660, rdev=(8, 2**20)),
        Entry("/bin", EntryKind.SYMLINK, 0o777, target="usr/bin", size=7),
        Entry("/odd\udcff\u00e9name", EntryKind.FILE, 0o4755, uid=2**31, gid=65534, mtime=-1),
        Entry("/nul\0name", EntryKind.FILE, target=None, xattrs={"user.k": b"\0\xff"}),
        Entry("/opt", EntryKind.DIR, xattrs={"security.selinux": b"x", "user.a": b""}),
        Entry("/opt/old", EntryKind.FILE, size=3, loc=4),
        Entry("/run", EntryKind.FIFO),
        Entry("/sock", EntryKind.SOCKET),
    ]
    apply_layer(tree, 0, base, "oci")
    top = [
        Entry("/etc/passwd", EntryKind.FILE, 0o600, size=20, loc=5),
        Entry("/opt/.wh..wh..opq", EntryKind.FILE),
        Entry("/opt/new", EntryKind.FILE, size=1),
        Entry("/.wh.run", EntryKind.FILE),
        Entry("/bin", EntryKind.DIR),
        Entry("/link-to-lower", EntryKind.FILE, hardlink="/etc/passwd-hard"),
        Entry("/empty-target", EntryKind.SYMLINK, target=""),
    ]
    apply_layer(tree, 1, top, "oci")
    apply_layer(tree, 2, [Entry("/bin", EntryKind.FILE, size=2)], "none")
    return tree


def test_rich_tree_roundtrip() -> None:
    tree = _rich_tree()
    # the fixture must exercise what it claims to
    assert tree.rdev and tree.xattrs and tree.target and tree.link_group
    assert tree.content_layer and tree.shadows and tree.prev
    assert {d.reason for d in tree.deletions} >= {"whiteout", "opaque", "replaced"}
    assert any("\0" in n for n in tree.name) and any("\udcff" in n for n in tree.name)
    assert_same(tree, roundtrip(tree))


def test_decoded_directories_are_indexed_on_first_use() -> None:
    img = load_image(str(FIXTURES / "sif" / "alpine-like-base.sif"), OpenOptions(use_cache=False))
    try:
        built = img.tree
        tree = roundtrip(built)
        dirs = len(built.children)
        assert len(tree._children) == 0 and len(tree.dir_nodes()) == dirs > 10
        node = tree.lookup("/etc/ssl/cert.pem")
        assert node == built.lookup("/etc/ssl/cert.pem") is not None
        assert len(tree._children) == 3  # /, /etc and /etc/ssl only
        # sizes are rolled up from child ids alone
        assert tree.total_size() == built.total_size()
        assert sizes.roll_up(tree) == sizes.roll_up(built)
        # ... but for the directories above hard links, whose liveness is looked up
        above_links = {built.lookup(p) for p in ("/", "/etc", "/etc/ssl", "/etc/ssl/certs")}
        assert set(tree._children) == above_links and dirs > 20
        assert list(tree.walk()) == list(built.walk())
        assert tree.children == built.children and list(tree.children) == list(built.children)
        assert tree._pending is None and tree._kid_ids is None
    finally:
        img.close()


@pytest.mark.parametrize("name", FIXTURE_IMAGES[:4])
def test_packed_children_are_the_same_tree(name: str) -> None:
    """pack_children (before a tree is cached) keeps what every reader of the tree sees."""
    prefix = "oci:" if name.startswith("oci/app-layout") else ""
    built = load_image(prefix + str(FIXTURES / name), OpenOptions(use_cache=False)).tree
    packed = roundtrip(built)  # a copy to pack
    packed.children  # noqa: B018 - builds every index, as a freshly built tree has them
    packed.pack_children()
    assert len(packed._children) == 0
    assert [packed.path(n) for n in packed.walk()] == [built.path(n) for n in built.walk()]
    assert_same(built, roundtrip(packed))  # encoded from the packed spans
    assert_same(built, packed)


def test_empty_tree_roundtrip() -> None:
    assert_same(FileTree(), roundtrip(FileTree()))


@settings(max_examples=150, deadline=None)
@given(st.lists(layer(), min_size=1, max_size=4))
def test_random_stacks_roundtrip(layers: list[tuple[list[Entry], WhiteoutStyle]]) -> None:
    tree = apply_layers(layers)
    assert_same(tree, roundtrip(tree))


@given(st.lists(st.text(), max_size=6))
def test_string_lists_roundtrip(strs: list[str]) -> None:
    assert unpack_strs(pack_strs(strs)) == strs


def test_decoded_tree_accepts_new_layers() -> None:
    """A decoded tree is a working tree: applying another layer behaves as on the original."""
    a, b = _rich_tree(), roundtrip(_rich_tree())
    more = [Entry("/etc/extra", EntryKind.FILE, size=1), Entry("/.wh.opt", EntryKind.FILE)]
    apply_layer(a, 3, list(more), "oci")
    apply_layer(b, 3, list(more), "oci")
    assert_same(a, b)


def test_truncated_payloads_raise_codec_error() -> None:
    blob = b"".join(bytes(p) for p in encode_tree(_rich_tree()))
    for cut in range(0, len(blob), max(1, len(blob) // 200)):
        with pytest.raises(TreeCodecError):
            decode_tree(blob[:cut])
    with pytest.raises(TreeCodecError):
        decode_tree(blob + b"\0")


def test_other_version_is_refused() -> None:
    blob = bytearray(b"".join(bytes(p) for p in encode_tree(_rich_tree())))
    blob[4] ^= 0xFF  # the version field follows the 4-byte magic
    with pytest.raises(TreeCodecError, match="version"):
        decode_tree(bytes(blob))


def test_garbage_raises_codec_error_only() -> None:
    import random

    rnd = random.Random(7)
    blob = bytearray(b"".join(bytes(p) for p in encode_tree(_rich_tree())))
    for _ in range(300):
        bad = bytearray(blob)
        for _ in range(rnd.randint(1, 4)):
            # corrupt the framing and the small sections, where a flip changes structure
            at = rnd.randrange(min(len(bad), 600))
            bad[at] = rnd.randrange(256)
        with contextlib.suppress(TreeCodecError):  # decoding into another tree is fine:
            decode_tree(bytes(bad))  # the store's checksum is what rejects flipped bytes
