"""The text fuzz target: random names, link targets, labels, environment values, history
lines and definition files through every text command of the CLI; no raw control byte may
come out (a finding is an AssertionError, which run_case reports as untyped).

A case is written as a sandbox directory (file names are bytes: anything but '/' and NUL)
with Apptainer metadata files, and as an OCI layout whose one layer holds the same names
and whose config holds the labels, environment and history (hand-written JSON: an image
whose author is the attacker).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from layerscope.cli import main

_RAW = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
# Bytes attackers use (ESC, BEL, CR, LF, C1, DEL, invalid UTF-8 lead bytes) weighted in.
_NASTY = [0x1B, 0x07, 0x0D, 0x0A, 0x9B, 0x7F, 0xFF, 0x08, 0x00, 0xC2, 0xE2, 0x5D, 0x5B]


@dataclass(frozen=True)
class TextCase:
    names: tuple[bytes, ...]
    target: bytes
    labels: tuple[tuple[str, str], ...]
    text: str  # history line, environment value, definition file, runscript


def _name() -> st.SearchStrategy[bytes]:
    byte = st.one_of(st.sampled_from(_NASTY), st.integers(1, 255))
    raw = st.lists(byte, min_size=1, max_size=24).map(bytes)
    return raw.map(lambda b: b.replace(b"/", b"_").replace(b"\0", b"_")).filter(
        lambda b: b not in (b".", b"..")
    )


_TEXT = st.text(
    st.characters(codec=None, blacklist_categories=()) | st.sampled_from(list("\x1b\x07\r\n\x9b")),
    max_size=60,
)


def text_cases() -> st.SearchStrategy[TextCase]:
    return st.builds(
        TextCase,
        names=st.lists(_name(), min_size=1, max_size=6, unique=True).map(tuple),
        target=_name(),
        labels=st.lists(st.tuples(_TEXT, _TEXT), max_size=3).map(tuple),
        text=_TEXT,
    )


def _utf8(s: str) -> str:
    # JSON and the metadata files are UTF-8: lone surrogates cannot be written to them
    return s.encode("utf-8", "replace").decode("utf-8")


def _sandbox(case: TextCase, root: Path) -> Path:
    tree = root / "sandbox"
    files = tree / "files"
    files.mkdir(parents=True)
    base = bytes(files)
    for name in case.names:
        with open(base + b"/" + name, "wb") as f:
            f.write(b"x")
    Path(base.decode("utf-8", "surrogateescape") + "/link").symlink_to(
        case.target.decode("utf-8", "surrogateescape")
    )
    meta = tree / ".singularity.d"
    meta.mkdir()
    (meta / "labels.json").write_text(json.dumps({_utf8(k): _utf8(v) for k, v in case.labels}))
    (meta / "runscript").write_text(_utf8(case.text))
    (meta / "Singularity").write_text(_utf8(case.text))
    return tree


def _blob(blobs: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layout(case: TextCase, root: Path) -> str:
    layout = root / "layout"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in case.names:
            info = tarfile.TarInfo("files/" + name.decode("utf-8", "surrogateescape"))
            info.size = 1
            t.addfile(info, io.BytesIO(b"x"))
    tar = buf.getvalue()
    layer = _blob(blobs, gzip.compress(tar, mtime=0))
    text = _utf8(case.text)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {_utf8(k): _utf8(v) for k, v in case.labels}, "Env": [f"X={text}"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(tar).hexdigest()}"]},
        "history": [{"created_by": text}],
    }
    cfg = _blob(blobs, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
    }
    man = _blob(blobs, json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [{"mediaType": manifest["mediaType"], **man}]}
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return f"oci:{layout}"


def materialize_text(case: TextCase, work: Path) -> str:
    """A finding is saved as the case itself (JSON: names and target in hex), from which
    run_text builds both images again."""
    path = work / "text-case.json"
    doc = {
        "names": [n.hex() for n in case.names],
        "target": case.target.hex(),
        "labels": [list(kv) for kv in case.labels],
        "text": case.text,
    }
    path.write_text(json.dumps(doc, ensure_ascii=True))
    return str(path)


def load_text_case(path: Path) -> TextCase:
    doc = json.loads(path.read_text())
    return TextCase(
        tuple(bytes.fromhex(n) for n in doc["names"]),
        bytes.fromhex(doc["target"]),
        tuple((k, v) for k, v in doc["labels"]),
        doc["text"],
    )


def _cli(*args: str) -> tuple[bytes, bytes]:
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="strict", write_through=True)
    # every exit code is fine: the bytes written are what is checked
    with (
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
        contextlib.suppress(SystemExit),
    ):
        main(list(args))
    return out.getvalue(), err.getvalue()


def _check(data: bytes, what: str) -> None:
    found = _RAW.search(data.decode("utf-8"))
    if found is not None:
        raise AssertionError(f"{what}: raw {found.group()!r} reached the terminal")


def run_text(case: TextCase, work: Path) -> None:
    sandbox = _sandbox(case, work)
    oci = _layout(case, work)
    missing = "/files/" + case.names[0].decode("utf-8", "surrogateescape") + "-gone"
    commands = [
        ("ls", str(sandbox)),
        ("ls", oci),
        ("inspect", str(sandbox)),
        ("inspect", oci),
        ("check", "--rule", "no-secrets=true", oci),
        ("diff", "--summary", str(sandbox), oci),
        ("cat", oci, missing),
        ("cat", str(sandbox), "/files/link"),
    ]
    for args in commands:
        out, err = _cli(*args, "--no-cache")
        _check(out, f"{args[0]} stdout")
        _check(err, f"{args[0]} stderr")
