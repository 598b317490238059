"""OCI JSON mutations: index.json, nested indexes, manifests, configs, docker manifest.json.

A mutated blob gets its new digest and every document that pointed at it is rewritten to
point at the new one (and so on up to index.json), so the damage reaches the parsers
instead of stopping at the digest check; a few cases skip the re-linking on purpose.
Documents are damaged structurally (values replaced by other JSON types, keys dropped or
added, boundary numbers, hostile digests and paths, deep nesting) or as raw text.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.conftest import FIXTURES

Files = dict[str, bytes]

KEYS = (
    "schemaVersion", "mediaType", "digest", "size", "manifests", "layers", "config",
    "platform", "architecture", "os", "variant", "annotations", "urls", "rootfs", "diff_ids",
    "history", "empty_layer", "created_by", "created", "comment", "Labels", "Env", "Cmd",
    "org.opencontainers.image.ref.name", "io.containerd.image.name", "Config", "Layers",
    "RepoTags", "imageLayoutVersion", "vnd.docker.reference.type",
)  # fmt: skip
STRINGS = (
    "", "sha256:", "sha256:../../../etc/passwd", "sha256:" + "0" * 64, "md5:abc", "../x",
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.layer.v1.tar+gzip+encrypted", "application/vnd.sif",
    "application/vnd.docker.distribution.manifest.list.v2+json", "linux/amd64", "unknown",
    "1.0", "latest", "/", "x" * 5000, "\udcff", "\u0000", "attestation-manifest",
)  # fmt: skip
NUMBERS = (0, -1, 1, 2, 2**31, 2**63, 2**64 + 1, -(2**63), 10**400, 1.5, 1e308)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(NUMBERS),
    st.integers(),
    st.sampled_from(STRINGS),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _nodes(doc: Any, out: list[tuple[Any, Any]], parent: Any = None, key: Any = None) -> None:
    """Every (container, key) slot of a JSON document, the root as (None, None)."""
    out.append((parent, key))
    if isinstance(doc, dict):
        for k, v in doc.items():
            _nodes(v, out, doc, k)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            _nodes(v, out, doc, i)


@st.composite
def mutate_doc(draw: st.DrawFn, doc: Any) -> Any:
    """Apply 1-3 structural edits to a parsed JSON document (in place when possible)."""
    for _ in range(draw(st.integers(1, 3))):
        slots: list[tuple[Any, Any]] = []
        _nodes(doc, slots)
        parent, key = draw(st.sampled_from(slots))
        old = doc if parent is None else parent[key]
        op = draw(st.integers(0, 6))
        if op == 0:
            new: Any = draw(json_values)
        elif op == 1 and parent is not None:
            del parent[key]
            continue
        elif op == 2 and isinstance(old, list) and old:
            old.append(old[draw(st.integers(0, len(old) - 1))])  # duplicate a descriptor
            continue
        elif op == 3 and isinstance(old, dict):
            old[draw(st.sampled_from(KEYS))] = draw(json_values)
            continue
        elif op == 4:
            new = draw(st.sampled_from(STRINGS)) if not isinstance(old, str) else [old]
        elif op == 5:
            new = draw(st.sampled_from(NUMBERS))
        else:
            depth = draw(st.sampled_from((50, 900, 5000, 100_000)))
            new = {"deep": "[" * depth + "]" * depth}  # becomes real nesting in to_bytes
        if parent is None:
            doc = new
        else:
            parent[key] = new
    return doc


def to_bytes(doc: Any) -> bytes:
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    # A marker for deep nesting that json.dumps itself could not build without recursing.
    text = text.replace('{"deep":"', "").replace(']"}', "]")
    return text.encode("utf-8", "surrogatepass")


@st.composite
def mutate_text(draw: st.DrawFn, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not buf:
            break
        pos = draw(st.integers(0, len(buf) - 1))
        op = draw(st.integers(0, 3))
        if op == 0:
            buf[pos] = draw(st.sampled_from(b'{}[]",:0-9eE.\\ \xff\xc3\x00'))
        elif op == 1:
            del buf[pos:]
        elif op == 2:
            buf[pos:pos] = draw(st.sampled_from((b"\\ud800", b"1e999999", b"\xed\xa0\x80", b"[")))
        else:
            buf[pos] ^= 1 << draw(st.integers(0, 7))
    return bytes(buf)


@st.composite
def mutate_json(draw: st.DrawFn, data: bytes) -> bytes:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        doc = None
    if doc is None or draw(st.integers(0, 4)) == 0:
        return draw(mutate_text(data))
    return to_bytes(draw(mutate_doc(doc)))


def relink(files: Files, rel: str, new: bytes, blob_dir: str = "blobs/sha256/") -> None:
    """Replace file `rel` by `new`; if it is a blob, store it under its new digest and point
    every document that named the old digest at the new one, recursively."""
    if not rel.startswith(blob_dir):
        files[rel] = new
        return
    old_digest = "sha256:" + rel[len(blob_dir) :]
    new_digest = digest_of(new)
    files[blob_dir + new_digest[7:]] = new
    for other, data in list(files.items()):
        if other == rel or old_digest.encode() not in data:
            continue
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            continue
        if _repoint(doc, old_digest, new_digest, len(new)):
            relink(files, other, to_bytes(doc), blob_dir)


def _repoint(doc: Any, old: str, new: str, size: int) -> bool:
    hit = False
    if isinstance(doc, dict):
        if doc.get("digest") == old:
            doc["digest"], doc["size"] = new, size
            hit = True
        for v in doc.values():
            hit = _repoint(v, old, new, size) or hit
    elif isinstance(doc, list):
        for v in doc:
            hit = _repoint(v, old, new, size) or hit
    return hit


def _tiny_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("etc/hostname")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"tiny\n"))
    return gzip.compress(buf.getvalue(), mtime=0)


def _load_layout(name: str) -> Files:
    root = FIXTURES / "oci" / name
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    # Big layers only slow each case down: the JSON is what is fuzzed here.
    for rel, data in list(files.items()):
        if rel.startswith("blobs/") and len(data) > 16 << 10:
            relink(files, rel, _tiny_layer())
            del files[rel]
    return files


@functools.cache
def layouts() -> tuple[Files, ...]:
    return (_load_layout("multiarch-layout"), _load_layout("app-layout"))


def json_rels(files: Files) -> list[str]:
    out = []
    for rel, data in sorted(files.items()):
        if data[:1] in (b"{", b"["):
            out.append(rel)
    return out


@dataclass(frozen=True)
class LayoutCase:
    kind: str  # "oci" (a layout directory) or "docker" (a docker-archive tar)
    files: tuple[tuple[str, bytes], ...]

    def __repr__(self) -> str:
        return f"LayoutCase({self.kind}, {[r for r, _ in self.files]})"


@st.composite
def layout_cases(draw: st.DrawFn) -> LayoutCase:
    if draw(st.integers(0, 3)) == 0:
        return draw(docker_cases())
    files = dict(draw(st.sampled_from(layouts())))
    for _ in range(draw(st.integers(1, 2))):
        rel = draw(st.sampled_from(json_rels(files)))
        new = draw(mutate_json(files[rel]))
        if draw(st.integers(0, 5)) == 0:
            files[rel] = new  # digest no longer matches: the check must catch it
        else:
            relink(files, rel, new)
    return LayoutCase("oci", tuple(sorted(files.items())))


@functools.cache
def docker_members() -> tuple[tuple[str, bytes | None, str | None], ...]:
    """(name, data, symlink target) of the docker-archive fixture, big layers made tiny."""
    path = FIXTURES / "docker" / "app-1.0.docker-archive.tar"
    out: list[tuple[str, bytes | None, str | None]] = []
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            if m.issym():
                out.append((m.name, None, m.linkname))
                continue
            f = tf.extractfile(m)
            data = f.read() if f is not None else b""
            if m.name.endswith(".tar") and len(data) > 16 << 10:
                data = gzip.decompress(_tiny_layer())
            out.append((m.name, data, None))
    return tuple(out)


def docker_tar(members: tuple[tuple[str, bytes | None, str | None], ...]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tf.addfile(info)
            else:
                info.size = len(data or b"")
                tf.addfile(info, io.BytesIO(data or b""))
    return buf.getvalue()


@st.composite
def docker_cases(draw: st.DrawFn) -> LayoutCase:
    members = list(docker_members())
    names = [m[0] for m in members if m[0].endswith(".json") or m[0] == "manifest.json"]
    name = draw(st.sampled_from(names))
    i = next(i for i, m in enumerate(members) if m[0] == name)
    new = draw(mutate_json(members[i][1] or b""))
    members[i] = (name, new, None)
    if name != "manifest.json" and draw(st.integers(0, 4)) > 0:
        # The config is named by its digest: rename it and point manifest.json at it.
        new_name = digest_of(new)[7:] + ".json"
        members[i] = (new_name, new, None)
        j = next(j for j, m in enumerate(members) if m[0] == "manifest.json")
        text = (members[j][1] or b"").replace(name.encode(), new_name.encode())
        members[j] = ("manifest.json", text, None)
    return LayoutCase("docker", (("archive.tar", docker_tar(tuple(members))),))


@dataclass(frozen=True)
class RegistryCase:
    top_digest: str  # what the registry answers for the tag (HEAD)
    blobs: tuple[tuple[str, bytes], ...]  # digest -> bytes the registry serves

    def __repr__(self) -> str:
        return f"RegistryCase({self.top_digest}, {len(self.blobs)} blobs)"


@st.composite
def registry_cases(draw: st.DrawFn) -> RegistryCase:
    files = dict(draw(st.sampled_from(layouts())))
    for _ in range(draw(st.integers(1, 2))):
        rel = draw(st.sampled_from([r for r in json_rels(files) if r != "index.json"]))
        new = draw(mutate_json(files[rel]))
        if draw(st.integers(0, 5)) == 0:
            files[rel] = new
        else:
            relink(files, rel, new)  # index.json follows: it names the top manifest
    top = json.loads(files["index.json"])["manifests"][-1]["digest"]
    blobs = tuple((f"sha256:{r[13:]}", d) for r, d in sorted(files.items()) if r[:6] == "blobs/")
    return RegistryCase(top, blobs)
