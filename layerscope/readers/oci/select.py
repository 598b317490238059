"""From an index to one image manifest: tags (ref.name), nested indexes, platforms."""

from __future__ import annotations

import hashlib
import json
import platform as _platform
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from layerscope import limits
from layerscope.errors import CorruptImageError, UnsupportedFormatError, UsageError

if TYPE_CHECKING:
    from layerscope.readers.oci.reader import BlobStore

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"

# platform.machine() -> GOARCH (the names OCI platforms use)
_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


@dataclass
class Selection:
    """One image chosen from an index: its manifest and what the choice saw."""

    manifest: dict[str, Any]
    manifest_digest: str | None
    platforms: list[str] = field(default_factory=list)
    ref: str | None = None


class FileTree(Protocol):
    """Named files of a layout or archive (oci_stores.DirFiles / TarFiles)."""

    def size_of(self, rel: str) -> int: ...

    def open_path(self, rel: str) -> BinaryIO: ...


def parse_json(data: bytes, what: str, source: str) -> Any:
    try:
        return json.loads(data)
    except RecursionError as e:
        raise CorruptImageError(f"{source}: {what} nests too deeply to be parsed") from e
    except (ValueError, UnicodeError) as e:
        raise CorruptImageError(f"{source}: {what} is not valid JSON: {e}") from e


def _too_large(what: str, size: int, source: str) -> Exception:
    return limits.exceeded(f"{source}: {what} is {size} bytes", "max_json_bytes")


def read_json_file(files: FileTree, rel: str, source: str) -> Any:
    """Parse a JSON file of a layout or archive (index.json, manifest.json), size-capped."""
    cap = limits.get("max_json_bytes")
    size = files.size_of(rel)
    if size > cap:
        raise _too_large(rel, size, source)
    try:
        with files.open_path(rel) as f:
            data = f.read(cap + 1)
    except OSError as e:
        raise CorruptImageError(f"{source}: cannot read {rel}: {e}") from e
    if len(data) > cap:  # the file grew after it was measured
        raise _too_large(rel, len(data), source)
    return parse_json(data, rel, source)


def load_json_blob(store: BlobStore, digest: str, what: str, source: str) -> Any:
    """Read a small JSON blob, check its digest (sha256/sha512) and parse it."""
    cap = limits.get("max_json_bytes")
    try:
        size = store.size(digest)
        if size > cap:
            raise _too_large(f"{what} {digest}", size, source)
        with store.open(digest) as f:
            data = f.read(cap + 1)
    except OSError as e:
        raise CorruptImageError(f"{source}: cannot read {what} {digest}: {e}") from e
    if len(data) > cap:
        raise _too_large(f"{what} {digest}", len(data), source)
    alg, _, expect = digest.partition(":")
    if alg in ("sha256", "sha512") and hashlib.new(alg, data).hexdigest() != expect:
        raise CorruptImageError(f"{source}: {what} {digest} does not match its digest")
    doc = parse_json(data, f"{what} {digest}", source)
    if not isinstance(doc, dict):
        raise CorruptImageError(f"{source}: {what} {digest} is not a JSON object")
    return doc


def descriptors(doc: dict[str, Any], source: str, what: str = "index") -> list[dict[str, Any]]:
    items = doc.get("manifests")
    if not isinstance(items, list) or not all(
        isinstance(d, dict) and isinstance(d.get("digest"), str) for d in items
    ):
        raise CorruptImageError(f"{source}: {what} has no valid 'manifests' list")
    if len(items) > limits.get("max_layers"):
        raise limits.exceeded(f"{source}: {what} lists {len(items)} images", "max_layers")
    return items


def _annotations(desc: dict[str, Any]) -> dict[str, Any]:
    ann = desc.get("annotations")
    return ann if isinstance(ann, dict) else {}


def ref_names(desc: dict[str, Any]) -> list[str]:
    ann = _annotations(desc)
    return [n for n in (ann.get(REF_NAME), ann.get(CONTAINERD_NAME)) if isinstance(n, str)]


def select_image(
    store: BlobStore, index: dict[str, Any], ref: str | None, platform: str | None, source: str
) -> Selection:
    """Choose the image `ref` names (or the only one) from an index.json, then a platform."""
    items = descriptors(index, source)
    if not items:
        raise CorruptImageError(f"{source}: index.json lists no images")
    if ref is not None and ref.startswith("@") and ref[1:].isdigit():  # skopeo's path:@N
        n = int(ref[1:])
        if n >= len(items):
            raise UsageError(f"{source}: no image @{n} (index.json lists {len(items)})")
        chosen = [items[n]]
    elif ref is not None:
        chosen = [d for d in items if ref in ref_names(d) or d["digest"] == ref]
        if not chosen:
            chosen = [d for d in items if any(_same_ref(ref, n) for n in ref_names(d))]
        if not chosen:
            raise UsageError(f"{source}: no image tagged {ref!r} (available: {_list_refs(items)})")
    elif len(items) == 1 or all(isinstance(d.get("platform"), dict) for d in items):
        chosen = items
    else:
        raise UsageError(
            f"{source} holds {len(items)} images; choose one with :REF ({_list_refs(items)})"
        )
    if len(chosen) > 1:  # one tag, several platforms (or an untagged platform list)
        sel = _pick_platform(store, {"manifests": chosen}, platform, source, None, 0)
    else:
        sel = resolve_descriptor(store, chosen[0], platform, source)
    sel.ref = ref if ref is not None else next(iter(ref_names(chosen[0])), None)
    return sel


def resolve_descriptor(
    store: BlobStore, desc: dict[str, Any], platform: str | None, source: str, depth: int = 0
) -> Selection:
    """Load what a descriptor points at; descend through image indexes by platform."""
    digest = desc["digest"]
    doc = load_json_blob(store, digest, "manifest", source)
    return resolve_document(store, doc, digest, platform, source, depth)


def resolve_document(
    store: BlobStore,
    doc: dict[str, Any],
    digest: str | None,
    platform: str | None,
    source: str,
    depth: int = 0,
) -> Selection:
    """A manifest stays; an index (OCI or Docker list) is narrowed to one platform."""
    media = doc.get("mediaType")
    if (isinstance(media, str) and media in INDEX_TYPES) or (
        "manifests" in doc and "layers" not in doc
    ):
        return _pick_platform(store, doc, platform, source, digest, depth)
    check_manifest(doc, digest or "manifest", source)
    return Selection(doc, digest)


def check_manifest(doc: dict[str, Any], what: str, source: str) -> None:
    if doc.get("schemaVersion") == 1:
        raise UnsupportedFormatError(f"{source}: {what} is a Docker schema 1 manifest")
    layers = doc.get("layers")
    if not isinstance(layers, list) or not all(
        isinstance(d, dict) and isinstance(d.get("digest"), str) for d in layers
    ):
        raise CorruptImageError(f"{source}: {what} has no valid 'layers' list")
    if len(layers) > limits.get("max_layers"):
        raise limits.exceeded(f"{source}: {what} lists {len(layers)} layers", "max_layers")
    cfg = doc.get("config")
    if cfg is not None and not (isinstance(cfg, dict) and isinstance(cfg.get("digest"), str)):
        raise CorruptImageError(f"{source}: {what} has an invalid 'config' descriptor")


def _pick_platform(
    store: BlobStore,
    index: dict[str, Any],
    platform: str | None,
    source: str,
    digest: str | None,
    depth: int,
) -> Selection:
    max_depth = limits.get("max_index_depth")
    if depth >= max_depth:
        raise limits.exceeded(
            f"{source}: image indexes nested more than {max_depth} deep", "max_index_depth"
        )
    items = [d for d in descriptors(index, source) if not _is_attestation(d)]
    offered = [(d, format_platform(d.get("platform"))) for d in items]
    names = [p for _, p in offered if p]
    want = platform or host_platform()
    matches = [d for d, p in offered if p and platform_matches(p, want)]
    if not matches:
        if len(items) == 1 and not names:  # a one-entry index without platforms: take it
            matches = items
        else:
            how = "requested" if platform else "this host's platform"
            raise UsageError(
                f"{source}: no image for {want} ({how}); available platforms: "
                f"{', '.join(names) or 'none listed'} (choose with --platform)"
            )
    sel = resolve_descriptor(store, matches[0], platform, source, depth + 1)
    if not sel.platforms:
        sel.platforms = names
    return sel


def _is_attestation(desc: dict[str, Any]) -> bool:
    ann = _annotations(desc)
    plat = desc.get("platform") or {}
    return ann.get("vnd.docker.reference.type") == "attestation-manifest" or (
        isinstance(plat, dict) and plat.get("os") == "unknown"
    )


def format_platform(plat: Any) -> str:
    """'os/arch[/variant]' of an OCI platform object; '' when there is none."""
    if not isinstance(plat, dict) or not plat.get("architecture"):
        return ""
    parts = [str(plat.get("os") or "linux"), str(plat["architecture"])]
    if plat.get("variant"):
        parts.append(str(plat["variant"]))
    return "/".join(parts)


def parse_platform(text: str) -> tuple[str, str, str | None]:
    """'linux/arm64/v8' -> ('linux', 'arm64', 'v8'); 'arm64' alone means linux/arm64."""
    parts = [p for p in text.strip().lower().split("/") if p]
    if len(parts) == 1:
        parts.insert(0, "linux")
    if not 2 <= len(parts) <= 3:
        raise UsageError(f"bad platform {text!r}: expected os/arch[/variant], e.g. linux/amd64")
    arch = _GOARCH.get(parts[1], parts[1])
    return parts[0], arch, parts[2] if len(parts) == 3 else None


def platform_matches(offered: str, wanted: str) -> bool:
    """Equal os and arch; a variant only has to match when asked for (arm64 means v8)."""
    w_os, w_arch, w_var = parse_platform(wanted)
    try:
        o_os, o_arch, o_var = parse_platform(offered)
    except UsageError:  # an odd platform in the image is no match, not the user's error
        return False
    if (o_os, o_arch) != (w_os, w_arch):
        return False
    if w_var is None:
        return True
    return (o_var or _DEFAULT_VARIANT.get(o_arch)) == w_var


def host_platform() -> str:
    """The platform a container on this machine would run: always linux, GOARCH names."""
    machine = _platform.machine().lower()
    arch = _GOARCH.get(machine, machine)
    variant = _DEFAULT_VARIANT.get(arch) if arch == "arm64" else None
    return f"linux/{arch}" + (f"/{variant}" if variant else "")


def _same_ref(ref: str, name: str) -> bool:
    return normalize_ref(ref) == normalize_ref(name)


def normalize_ref(ref: str) -> str:
    """Docker's reference normalisation: 'alpine' -> 'docker.io/library/alpine:latest'."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and not digest:
        name += ":latest"
    first, sep, rest = name.partition("/")
    if not sep:
        name = "docker.io/library/" + name
    elif "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    elif first == "index.docker.io":
        name = "docker.io/" + rest
    if name.startswith("docker.io/") and name.count("/") == 1:
        name = "docker.io/library/" + name[len("docker.io/") :]
    return name + ("@" + digest if digest else "")


def _list_refs(items: list[dict[str, Any]]) -> str:
    names = [ref_names(d)[0] if ref_names(d) else d["digest"] for d in items]
    return ", ".join(names)
