"""Image-level metadata shared by every format: layers and what the image says of itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# How a layer encodes deletions (model.layers applies them): OCI `.wh.` names, overlayfs
# 0/0 character devices and opaque xattrs, or none (a first layer, a lone layer blob,
# a filesystem image whose entries are all real).
WhiteoutStyle = Literal["oci", "overlayfs", "none"]


@dataclass(slots=True)
class LayerInfo:
    """One layer (OCI) or partition (SIF primary, overlay) as the reader describes it.

    id            digest ("sha256:...") for OCI blobs; "descriptor N" for SIF partitions;
                  the file path for a bare squashfs or a sandbox.
    media_type    what the bytes are: an OCI layer media type, "squashfs", "ext3-overlay",
                  "directory".
    stored_size   bytes the layer occupies in the image (compressed blob, partition size).
    diff_id       digest of the uncompressed tar for OCI layers (shared-layer detection).
    created_by    the command that made it (OCI history, SIF definition summary).
    encrypted     True for EncryptedSquashfs / GocryptfsSquashfs partitions.
    whiteouts     how this layer encodes deletions (set by the reader that knows).
    extra         format-specific facts (partition type, compressor, block size...).
    """

    index: int
    id: str
    media_type: str
    stored_size: int
    diff_id: str | None = None
    created_by: str | None = None
    comment: str | None = None
    empty_history: list[str] = field(default_factory=list)
    encrypted: bool = False
    whiteouts: WhiteoutStyle = "none"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ImageMeta:
    """What an image says of itself, format-neutral where possible.

    `sif` holds the SIF header and descriptor table (JSON-ready dicts); `config` the OCI
    image config's `config` object (or a SIF's oci-config.json); `generic_json` every SIF
    JSON.Generic object by name. `carries_config` is False for formats that cannot hold an
    OCI config or history (a bare squashfs, a directory): comparing theirs would report a
    difference of container formats only. `stored_bytes`: the image file's size, where the
    image is one file.
    """

    format: str
    source: str
    layers: list[LayerInfo] = field(default_factory=list)
    architecture: str | None = None
    os: str | None = None
    variant: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    created: str | None = None
    author: str | None = None
    definition: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    environment: str | None = None
    runscript: str | None = None
    help: str | None = None
    test: str | None = None  # Apptainer's %test section (/.singularity.d/test)
    startscript: str | None = None  # %startscript, run by `instance start`
    # earlier definition files /.singularity.d/bootstrap_history/ keeps (a build from a
    # SIF or sandbox base): file name -> text, in name order
    bootstrap_history: dict[str, str] = field(default_factory=dict)
    generic_json: dict[str, Any] = field(default_factory=dict)
    sif: dict[str, Any] | None = None
    signatures: list[dict[str, Any]] = field(default_factory=list)
    encryption: list[dict[str, Any]] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    manifest_digest: str | None = None
    config_digest: str | None = None
    warnings: list[str] = field(default_factory=list)
    carries_config: bool = True
    stored_bytes: int | None = None
