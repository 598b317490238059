"""Secrets left in an image: in files of any layer (deleted ones too: their bytes are still
in the image) and in what the image says of itself (SIF definition, labels, environment,
runscript; OCI config Env and history).

Content comes from a caller-supplied `read(node)` (I/O stays outside the model); it may
return None to skip a file (too big, binary, over budget). Values are never kept whole:
findings carry `secret_rules.redact`ed text only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from layerscope.model.bloat.secret_anchors import any_hits
from layerscope.model.bloat.secret_rules import (
    Match,
    any_case_rules,
    is_config_like,
    looks_sensitive,
    path_kind,
    scan_bytes,
    scan_text,
)
from layerscope.model.bloat.waste import PathCache, Provenance, content_key
from layerscope.model.entry import EntryKind
from layerscope.model.image import ImageMeta
from layerscope.model.tree import FileTree

Read = Callable[[int], "bytes | None"]


@dataclass(slots=True, frozen=True)
class SecretFinding:
    kind: str
    source: str  # "file", "definition", "labels", "environment", "config", "history", ...
    location: str  # the path, or where in the metadata ("config.Env[1]", "history[4]")
    how: str  # "path" or "content"
    detail: str  # redacted: never the whole value
    line: int | None = None
    layer: int | None = None  # the layer holding the file's bytes
    hidden_by: int | None = None  # the layer that deleted or replaced it
    hidden_how: str | None = None  # whiteout, opaque, shadowed, ...
    visible: bool = True  # the final tree (or the metadata) still shows it
    digest: str = ""  # secret_rules.fingerprint of the value ("" for a path finding)
    node: int | None = None  # the tree node of the file (not part of any document)
    shipped_by: str | None = None  # "PKG VERSION (MANAGER)": a package installed it unchanged

    @property
    def fingerprint(self) -> str:
        """What a baseline keeps of this finding: a digest of where it is (the path or
        metadata location), its kind and the digest of its value; never the value."""
        data = f"{self.source}\0{self.location}\0{self.kind}\0{self.how}\0{self.digest}"
        return hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()[:32]

    @property
    def recoverable(self) -> bool:
        """Not visible, yet its bytes are still in the image."""
        return not self.visible

    def status(self) -> str:
        if self.source != "file":
            return f"in image metadata ({self.location})"
        if self.shipped_by is not None:
            where = "visible" if self.visible else "not visible"
            return f"shipped by package {self.shipped_by}, unchanged, {where} in the final tree"
        if self.visible:
            return f"present in layer {self.layer}, visible in the final tree"
        return (
            f"present in layer {self.layer}, {_verb(self.hidden_how)} in layer "
            f"{self.hidden_by}, recoverable"
        )


def _verb(how: str | None) -> str:
    return {
        "whiteout": "deleted",
        "opaque": "hidden (opaque directory)",
        "shadowed": "overwritten",
        "attribute-only": "re-added (attributes only)",
        "unchanged-rewrite": "re-added unchanged",
    }.get(how or "", "replaced")


def find_file_secrets(
    tree: FileTree,
    read: Read,
    provenance: Provenance | None = None,
    deep: bool = False,
    nodes: Iterable[int] | None = None,
    scanned: dict[tuple[int, int], list[Match]] | None = None,
) -> list[SecretFinding]:
    """Every regular file of every layer (live or not) whose path or content is a secret.
    `deep` reads every file `read` accepts; otherwise only candidate names. `scanned`
    holds matches already found per content (content_key): those are not read again."""
    prov = provenance or Provenance(tree)
    memo: dict[tuple[int, int], list[Match]] = scanned if scanned is not None else {}
    out: list[SecretFinding] = []
    path_of = PathCache(tree)
    for node in nodes if nodes is not None else range(1, len(tree)):
        if tree.kind[node] != EntryKind.FILE or tree.size[node] == 0:
            continue
        path = path_of(node)
        by_path = path_kind(path)
        matches: list[Match] = []
        if deep or by_path is not None or looks_sensitive(path):
            key = content_key(tree, node)
            got = memo.get(key)
            if got is None:
                data = read(node)
                got = [] if data is None else scan_file(path, data)
                memo[key] = got
            matches = got
        if by_path is None and not matches:
            continue
        cause = prov.cause(node)
        place = {
            "layer": tree.source_layer(node),
            "hidden_by": None if cause is None else cause.layer,
            "hidden_how": None if cause is None else cause.reason,
            "visible": cause is None,
            "node": node,
        }
        if by_path is not None:
            out.append(_finding(by_path, path, "path", by_path, None, place, ""))
        out.extend(
            _finding(m.kind, path, "content", m.detail, m.line, place, m.digest) for m in matches
        )
    return out


def _finding(
    kind: str,
    path: str,
    how: str,
    detail: str,
    line: int | None,
    place: dict[str, Any],
    digest: str,
) -> SecretFinding:
    return SecretFinding(
        kind,
        "file",
        path,
        how,
        detail,
        line=line,
        layer=place["layer"],
        hidden_by=place["hidden_by"],
        hidden_how=place["hidden_how"],
        visible=place["visible"],
        digest=digest,
        node=place["node"],
    )


def scan_file(path: str, data: bytes) -> list[Match]:
    """The content findings of one file's bytes (none for a binary file)."""
    if b"\0" in data[:8192]:
        return []  # binary: patterns over it are noise
    name = path.rpartition("/")[2]
    return scan_bytes(data, settings=is_config_like(path), netrc=name in (".netrc", "_netrc"))


BATCH_BYTES = 8 << 20  # text BatchScan holds per kind of file before searching it


class BatchScan:
    """scan_file() over many files, the prefilter run over batches of them (any_hits):
    each file gets the matches scan_file() gives it alone, handed to `done(key, data,
    matches)` when its batch is searched (at the latest on flush()). A file the prefilter
    finds nothing in has none; the others are scanned one by one."""

    def __init__(self, done: Callable[[Any, bytes, list[Match]], None], hold: int = BATCH_BYTES):
        self.done = done
        self.hold = hold
        # per prefilter mode (settings, netrc): (key, path, data) waiting, their bytes
        self._waiting: dict[tuple[bool, bool], list[tuple[Any, str, bytes]]] = {}
        self._bytes: dict[tuple[bool, bool], int] = {}

    def add(self, key: Any, path: str, data: bytes) -> None:
        if data.find(b"\0", 0, 8192) >= 0:  # no copy of the head
            self.done(key, data, [])  # binary: as scan_file
            return
        name = path.rpartition("/")[2]
        mode = (is_config_like(path), name in (".netrc", "_netrc"))
        self._waiting.setdefault(mode, []).append((key, path, data))
        held = self._bytes[mode] = self._bytes.get(mode, 0) + len(data)
        if held >= self.hold:
            self._search(mode)

    def flush(self) -> None:
        for mode in list(self._waiting):
            self._search(mode)

    def _search(self, mode: tuple[bool, bool]) -> None:
        batch = self._waiting.pop(mode, [])
        self._bytes.pop(mode, None)
        hits = any_hits([data for _, _, data in batch], any_case_rules(*mode))
        for (key, path, data), hit in zip(batch, hits, strict=True):
            self.done(key, data, scan_file(path, data) if hit else [])


def find_meta_secrets(meta: ImageMeta) -> list[SecretFinding]:
    """Secrets in what the image says of itself: every text is treated as settings."""
    out: list[SecretFinding] = []

    def scan(source: str, location: str, text: str | None) -> None:
        if not text:
            return
        for m in scan_text(text, settings=True):
            line = m.line if "\n" in text else None
            found = SecretFinding(m.kind, source, location, "content", m.detail, line=line,
                                  digest=m.digest)  # fmt: skip
            out.append(found)

    scan("definition", "definition", meta.definition)
    scan("environment", "environment", meta.environment)
    scan("runscript", "runscript", meta.runscript)
    scan("help", "help", meta.help)
    for k, v in sorted(meta.labels.items()):
        scan("labels", f"labels[{k}]", f"{k}={v}")
    env = meta.config.get("Env") if isinstance(meta.config, dict) else None
    if isinstance(env, list):
        for i, item in enumerate(env):
            scan("config", f"config.Env[{i}]", str(item))
    for i, h in enumerate(meta.history):
        if isinstance(h, dict):
            scan("history", f"history[{i}].created_by", _str(h.get("created_by")))
            scan("history", f"history[{i}].comment", _str(h.get("comment")))
    for name, obj in sorted(meta.generic_json.items()):
        if name == "labels.json" and meta.labels:
            continue  # the same labels, already scanned
        scan("sif", f"sif:{name}", obj if isinstance(obj, str) else json.dumps(obj, indent=1))
    return out


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
