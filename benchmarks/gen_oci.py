"""A deterministic multi-layer OCI image layout, for benchmark inputs only.

Each layer is bench_layer.members(size_mb, entries + i): the OCI helper's generator of
files, directories, symlinks, hard links and PAX names with compressible data; the small
change in `entries` gives every layer its own paths, so upper layers add and overwrite.
Layers are gzip-compressed with isal (level 1), written straight into
`blobs/sha256/<digest>` with their diff_ids computed on the way.

    python benchmarks/gen_oci.py OUT_DIR [--layers 5] [--size-mb 1536] [--entries 300000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_layer import member_blocks

CREATED = "2023-11-14T22:13:20Z"


def _write_layer(blobs: Path, size_mb: int, entries: int) -> tuple[str, str, int]:
    """(blob digest, diff_id, compressed size) of one gzip layer."""
    from isal import igzip

    gz: Any = igzip  # isal's own annotations are partial
    tmp = blobs / f".layer-{os.getpid()}.tmp"
    raw = hashlib.sha256()
    with (
        open(tmp, "wb") as out,
        gz.IGzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0) as g,
    ):
        for block in member_blocks(size_mb, entries):
            raw.update(block)
            g.write(block)
        g.write(b"\0" * 1024)
        raw.update(b"\0" * 1024)
    blob = hashlib.sha256()
    with open(tmp, "rb") as f:
        while chunk := f.read(1 << 20):
            blob.update(chunk)
    digest = "sha256:" + blob.hexdigest()
    size = tmp.stat().st_size
    tmp.rename(blobs / blob.hexdigest())
    return digest, "sha256:" + raw.hexdigest(), size


def _put_json(blobs: Path, doc: dict[str, Any]) -> tuple[str, int]:
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    hexd = hashlib.sha256(data).hexdigest()
    (blobs / hexd).write_bytes(data)
    return "sha256:" + hexd, len(data)


def build_oci(out: Path, layers: int, size_mb: int, entries: int) -> Path:
    """Write the layout once (a `.done` marker makes later calls free); returns `out`."""
    done = out / ".done"
    if done.exists():
        return out
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    descs, diff_ids = [], []
    for i in range(layers):
        digest, diff_id, size = _write_layer(blobs, size_mb // layers, entries // layers + i)
        descs.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest,
                "size": size,
            }
        )
        diff_ids.append(diff_id)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": CREATED, "created_by": f"layer {i}"} for i in range(layers)],
    }
    cfg_digest, cfg_size = _put_json(blobs, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": cfg_digest,
            "size": cfg_size,
        },
        "layers": descs,
    }
    man_digest, man_size = _put_json(blobs, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": man_digest,
                "size": man_size,
                "annotations": {"org.opencontainers.image.ref.name": "bench"},
            }
        ],
    }
    (out / "index.json").write_text(json.dumps(index))
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    done.write_text("ok\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--size-mb", type=int, default=1536)
    ap.add_argument("--entries", type=int, default=300_000)
    a = ap.parse_args()
    build_oci(a.out, a.layers, a.size_mb, a.entries)
    print(a.out)


if __name__ == "__main__":
    main()
