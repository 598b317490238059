"""layerscope: look inside SIF, squashfs, OCI and Docker images.

    import layerscope

    with layerscope.open("final.sif") as img:          # or "docker://...", "oci:DIR"...
        for entry in img.ls("/etc"):
            print(entry.path, entry.size)
        report = img.analyze()                         # dive's numbers, waste, secrets
        with layerscope.open("stage1.sif") as before:
            changes = before.diff(img)                 # entries, metadata, packages

The package root stays light: importing it loads neither the readers nor the UI; `open`
imports what it needs when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from layerscope.engine.image import Image

__all__ = ["Image", "__version__", "open"]


def open(
    ref: str,
    *,
    layer: int | None = None,
    platform: str | None = None,
    tls_verify: bool = True,
    use_cache: bool = True,
    storage_root: str | None = None,
    keyrings: tuple[str, ...] = (),
) -> Image:
    """Open any image layerscope reads (a SIF, squashfs or sandbox path, `oci:DIR[:REF]`,
    `oci-archive:`, `docker-archive:`, `dir:`, a layer tarball, `docker://HOST/REPO:TAG`,
    `containers-storage:NAME`, `docker-daemon:NAME`, a bare NAME[:TAG] from the local
    engines) and merge its layers 0..`layer` (all by default) into one tree.
    `storage_root`: the podman/buildah store (default: podman's); `keyrings`: files of
    keys SIF signatures are verified against (default: Apptainer's keyring).

    Raises layerscope.errors.LayerscopeError subclasses: UsageError (a bad reference, a
    name that does not exist), ReaderError (unreadable, corrupt or unsupported input),
    RegistryError (network or registry failure)."""
    from layerscope.engine.loading import load_image
    from layerscope.readers import OpenOptions

    options = OpenOptions(
        platform=platform,
        tls_verify=tls_verify,
        use_cache=use_cache,
        storage_root=storage_root,
        keyrings=tuple(keyrings),
    )
    return load_image(ref, options, upto=layer)


def __getattr__(name: str) -> object:
    if name == "Image":
        from layerscope.engine.image import Image

        return Image
    raise AttributeError(f"module 'layerscope' has no attribute {name!r}")
