"""open_image(ref): pick the reader for a reference, by transport prefix or by magic bytes."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from layerscope.errors import ReaderError, UnsupportedFormatError, UsageError
from layerscope.readers.base import ImageReader

__all__ = ["ImageReader", "OpenOptions", "open_image", "sniff"]

SIF_MAGIC = b"SIF_MAGIC\x00"
SQUASHFS_MAGIC = b"hsqs"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

TRANSPORTS = ("oci", "oci-archive", "docker-archive", "dir", "docker", "sif", "squashfs", "sandbox")


def _cache_wanted() -> bool:
    # `--no-cache` sets this for the whole command, so every reader it opens agrees.
    return os.environ.get("LAYERSCOPE_NO_CACHE", "") in ("", "0")


@dataclass(slots=True)
class OpenOptions:
    platform: str | None = None
    tls_verify: bool = True
    use_cache: bool = field(default_factory=_cache_wanted)


def split_transport(ref: str) -> tuple[str | None, str]:
    """'oci-archive:x.tar:1.0' -> ('oci-archive', 'x.tar:1.0'); 'docker://h/r' -> ('docker', ...).

    A plain path (even one containing ':') has no transport unless the prefix is known."""
    if ref.startswith("docker://"):
        return "docker", ref[len("docker://") :]
    head, sep, rest = ref.partition(":")
    if sep and head in TRANSPORTS and head != "docker":
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
    """Name the format of a local path from its magic bytes (never from its name)."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "oci-layout")):
            return "oci"
        if os.path.isfile(os.path.join(path, "manifest.json")) and os.path.isfile(
            os.path.join(path, "version")
        ):
            return "dir"
        return "sandbox"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            # A FIFO or device would block or never end: not an image file.
            raise UnsupportedFormatError(f"{path}: not a regular file or directory")
        with open(path, "rb") as f:
            head = f.read(512)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file or directory") from None
    except OSError as e:
        raise ReaderError(f"{path}: cannot read: {e.strerror}") from None
    if len(head) >= 42 and head[32:42] == SIF_MAGIC:
        return "sif"
    if head[:4] == SQUASHFS_MAGIC:
        return "squashfs"
    if head[:2] == GZIP_MAGIC or head[:4] == ZSTD_MAGIC:
        return "layer"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
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
    if transport == "docker":
        import layerscope.readers.registry.reader as registry

        return registry.open_registry(rest, opts)
    if transport is None:
        path, tag = rest, None
        if not os.path.exists(path):
            path, tag = split_path_ref(rest)
            if not os.path.exists(path):
                raise UsageError(f"{rest}: no such file or directory")
        transport = sniff(path)
    else:
        path, tag = split_path_ref(rest)
        if not os.path.exists(path):
            raise UsageError(f"{path}: no such file or directory")
    if transport == "sif":
        from layerscope.readers.sif.reader import SifReader

        return SifReader(path)
    if transport == "squashfs":
        from layerscope.readers.squashfs.reader import SquashfsImageReader

        return SquashfsImageReader(path)
    if transport == "sandbox":
        from layerscope.readers.directory import SandboxReader

        return SandboxReader(path)
    import layerscope.readers.oci.reader as oci

    return oci.open_oci(transport, path, tag, opts)
