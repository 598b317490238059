"""Which reader opens a reference: transport prefixes and magic bytes, as one table.

Adding a format is a reader package plus one row in FORMATS (and, when files of it are to
be recognised without a prefix, its magic bytes in that row). Nothing outside readers/
tests a format's name.
"""

from __future__ import annotations

import importlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from layerscope.errors import NotFoundError, ReaderError, UnsupportedFormatError, UsageError
from layerscope.readers.base import ImageReader

__all__ = ["FORMATS", "Format", "OpenOptions", "open_image", "sniff", "split_transport"]


@dataclass(slots=True)
class OpenOptions:
    """How to open an image: which platform of an index, whether to verify TLS, and whether
    to read and write the index cache (`--no-cache` is use_cache=False)."""

    platform: str | None = None
    tls_verify: bool = True
    use_cache: bool = True


Opener = Callable[[str, "str | None", OpenOptions], ImageReader]


@dataclass(frozen=True, slots=True)
class Format:
    """One row: a transport name, where its opener lives ("module:function", imported on
    use so `ls` of a SIF never imports the registry client), and how plain paths of it
    are recognised: (offset, bytes) magic, or a predicate on a directory."""

    name: str
    opener: str
    magic: tuple[tuple[int, bytes], ...] = ()
    local: bool = True  # the rest of the reference is a path [+ :REF]
    dir_marker: tuple[str, ...] = field(default=())  # files a directory of it holds

    def open(self, rest: str, tag: str | None, opts: OpenOptions) -> ImageReader:
        module, _, func = self.opener.partition(":")
        fn: Opener = getattr(importlib.import_module(module), func)
        return fn(rest, tag, opts)


_OCI = "layerscope.readers.oci.open:"
FORMATS: tuple[Format, ...] = (
    Format("sif", "layerscope.readers.sif.reader:open_sif", magic=((32, b"SIF_MAGIC\x00"),)),
    Format("squashfs", "layerscope.readers.squashfs.reader:open_squashfs", magic=((0, b"hsqs"),)),
    Format("oci", _OCI + "open_layout_dir", dir_marker=("oci-layout",)),
    Format("oci-archive", _OCI + "open_oci_archive"),
    Format("docker-archive", _OCI + "open_docker_archive_file"),
    Format("dir", _OCI + "open_skopeo_dir", dir_marker=("manifest.json", "version")),
    # a gzip or zstd stream: a compressed layer blob
    Format("layer", _OCI + "open_layer_blob", magic=((0, b"\x1f\x8b"), (0, b"\x28\xb5\x2f\xfd"))),
    # a plain tar (a layer, or an archive recognised by its members)
    Format("tar", _OCI + "open_tar", magic=((257, b"ustar"),)),
    Format("docker", "layerscope.readers.registry.reader:open_transport", local=False),
    Format("sandbox", "layerscope.readers.directory:open_sandbox"),
)
BY_NAME = {f.name: f for f in FORMATS}
# what a user may write before the ':' (docker:// is spelled with slashes)
PREFIXES = frozenset(n for n in BY_NAME if n not in ("layer", "tar", "docker"))
SNIFF_BYTES = 512


def split_transport(ref: str) -> tuple[str | None, str]:
    """'oci-archive:x.tar:1.0' -> ('oci-archive', 'x.tar:1.0'); 'docker://h/r' -> ('docker', ...).

    A plain path (even one containing ':') has no transport unless the prefix is known."""
    if ref.startswith("docker://"):
        return "docker", ref[len("docker://") :]
    head, sep, rest = ref.partition(":")
    if sep and head in PREFIXES:
        return head, rest
    return None, ref


def split_path_ref(rest: str) -> tuple[str, str | None]:
    """'dir/layout:1.0' -> ('dir/layout', '1.0'); 'x.tar:repo/app:1.1' -> ('x.tar', 'repo/app:1.1').

    A path that exists is taken whole; otherwise the shortest existing prefix before a ':'
    is the path (references may contain ':' themselves)."""
    if os.path.exists(rest):
        return rest, None
    pos = rest.find(":")
    while pos > 0:
        if os.path.exists(rest[:pos]):
            return rest[:pos], rest[pos + 1 :]
        pos = rest.find(":", pos + 1)
    return rest, None


def sniff(path: str) -> str:
    """Name the format of a local path from its contents (never from its name)."""
    if os.path.isdir(path):
        for fmt in FORMATS:
            if fmt.dir_marker and all(
                os.path.isfile(os.path.join(path, m)) for m in fmt.dir_marker
            ):
                return fmt.name
        return "sandbox"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            # A FIFO or device would block or never end: not an image file.
            raise UnsupportedFormatError(f"{path}: not a regular file or directory")
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file or directory") from None
    except OSError as e:
        raise ReaderError(f"{path}: cannot read: {e.strerror}") from None
    for fmt in FORMATS:
        if any(head[at : at + len(magic)] == magic for at, magic in fmt.magic):
            return fmt.name
    if not head:
        raise UnsupportedFormatError(f"{path}: empty file")
    if head[:2] == b"#!":
        # A SIF starts with its launch script; without the magic after it, it is broken.
        raise UnsupportedFormatError(f"{path}: not a SIF image (no SIF magic at byte 32)")
    raise UnsupportedFormatError(
        f"{path}: unrecognised format (not SIF, squashfs, OCI, Docker archive or layer tar)"
    )


def open_image(ref: str, options: OpenOptions | None = None) -> ImageReader:
    """Open any supported reference read-only and return its reader."""
    opts = options or OpenOptions()
    transport, rest = split_transport(ref)
    if transport is not None and not BY_NAME[transport].local:
        return BY_NAME[transport].open(rest, None, opts)
    path, tag = split_path_ref(rest)
    if not os.path.exists(path):
        raise NotFoundError(f"{path}: no such file or directory")
    if transport is None:
        transport = sniff(path)
    return BY_NAME[transport].open(path, tag, opts)


def no_tag(path: str, tag: str | None, what: str) -> None:
    """Formats that hold one image refuse a `:REF` after the path."""
    if tag is not None:
        raise UsageError(f"{path}: {what} holds one image; it has no tags (got :{tag})")
