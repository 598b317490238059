"""Which reader opens a reference: transport prefixes and magic bytes, as one table.

Adding a format is a reader package plus one row in FORMATS (and, when files of it are to
be recognised without a prefix, its magic bytes in that row). Nothing outside readers/
tests a format's name.
"""

from __future__ import annotations

import importlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from layerscope.errors import NotFoundError, ReaderError, UnsupportedFormatError, UsageError
from layerscope.readers.base import ImageReader

__all__ = [
    "FORMATS",
    "Format",
    "OpenOptions",
    "is_bare_name",
    "open_image",
    "sniff",
    "split_transport",
]


@dataclass(slots=True)
class OpenOptions:
    """How to open an image: which platform of an index, whether to verify TLS, whether
    to read and write the index cache (`--no-cache` is use_cache=False), which podman/buildah
    store to read (`--storage-root`; default: the one podman uses), and the keyrings SIF
    signatures are verified against (`--keyring`; default: Apptainer's)."""

    platform: str | None = None
    tls_verify: bool = True
    use_cache: bool = True
    storage_root: str | None = None
    keyrings: tuple[str, ...] = ()


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
    # "module:function" that opens a bare name (`myapp:latest`) from this source, raising
    # NotFoundError when the image is not there; rows with one are tried in table order
    bare: str | None = None

    def open(self, rest: str, tag: str | None, opts: OpenOptions) -> ImageReader:
        return _call(self.opener, rest, tag, opts)

    def open_bare(self, name: str, opts: OpenOptions) -> ImageReader:
        assert self.bare is not None
        return _call(self.bare, name, None, opts)


def _call(target: str, rest: str, tag: str | None, opts: OpenOptions) -> ImageReader:
    module, _, func = target.partition(":")
    fn: Opener = getattr(importlib.import_module(module), func)
    return fn(rest, tag, opts)


_OCI = "layerscope.readers.oci.open:"
_CSTORE = "layerscope.readers.containers_storage.reader:"
_DAEMON = "layerscope.readers.docker_daemon.reader:"
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
    # local engines; a bare name is looked up in them in this order (never pulled)
    Format(
        "containers-storage",
        _CSTORE + "open_containers_storage",
        local=False,
        bare=_CSTORE + "open_containers_storage",
    ),
    Format("docker-daemon", _DAEMON + "open_daemon", local=False, bare=_DAEMON + "find_daemon"),
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
        if transport is None and is_bare_name(ref):
            return open_bare_name(ref, opts)
        raise NotFoundError(f"{path}: no such file or directory")
    if transport is None:
        transport = sniff(path)
    return BY_NAME[transport].open(path, tag, opts)


# A Docker reference (repo[:tag][@digest]); paths that look like files are not tried as names.
_NAME = re.compile(
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)
_FILE_SUFFIXES = (".sif", ".sqfs", ".squashfs", ".img", ".tar", ".tgz", ".gz", ".zst", ".json")


def is_bare_name(ref: str) -> bool:
    """`myapp:latest`, `localhost/app`, `quay.io/org/app:1`: not a path someone mistyped."""
    return bool(_NAME.fullmatch(ref)) and not ref.lower().endswith(_FILE_SUFFIXES)


def open_bare_name(name: str, opts: OpenOptions) -> ImageReader:
    """A name that is no path: the local engines in FORMATS order (a podman/buildah store,
    then the Docker daemon); never a registry, which must be named with docker://."""
    tried = []
    for fmt in FORMATS:
        if fmt.bare is None:
            continue
        try:
            return fmt.open_bare(name, opts)
        except NotFoundError as e:
            tried.append(str(e))
    raise NotFoundError(
        f"{name}: no such file or directory, and no local image of that name ("
        + "; ".join(tried)
        + f"); an image in a registry is named docker://HOST/REPO:TAG, e.g. docker://{name}"
    )


def no_tag(path: str, tag: str | None, what: str) -> None:
    """Formats that hold one image refuse a `:REF` after the path."""
    if tag is not None:
        raise UsageError(f"{path}: {what} holds one image; it has no tags (got :{tag})")
