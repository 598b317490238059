"""A deep stack: an OCI layout whose manifest lists one 300-file layer 2,000 times.

Applying layers must stay linear in entries x layers written: 0.1.0 copied every path's
history at every layer and peaked at 5 GB here (132 s). Used by `benchmarks/run`;
runnable alone:

    python benchmarks/bench_stack.py [--layers 2000] [--files 300] [--repeat 3]

The layout is written deterministically (tarfile + gzip, fixed mtimes) into --work-dir; the
whole thing is under 1 MB. Peak RSS is the load child's VmHWM (bench_open.LOAD_CHILD).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_open import Timing, run_load

MTIME = 1_700_000_000


def _layer(files: int) -> bytes:
    """One layer: /app and `files` small files in it, as tar.gz bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("app")
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
        tf.addfile(info)
        for i in range(files):
            data = f"content {i}\n".encode()
            info = tarfile.TarInfo(f"app/file-{i:03d}.txt")
            info.size, info.mode, info.mtime = len(data), 0o644, MTIME
            tf.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _put(blobs: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return "sha256:" + digest, len(data)


def build_stack(out: Path, layers: int, files: int) -> Path:
    """Write the layout once (a `.done` marker makes later calls free); returns `out`."""
    if (out / ".done").exists():
        return out
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    tar = _layer(files)
    layer_digest, layer_size = _put(blobs, gzip.compress(tar, mtime=0))
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id] * layers},
        "history": [{"created_by": f"layer {i}"} for i in range(layers)],
    }
    cfg_digest, cfg_size = _put(blobs, json.dumps(config).encode())
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": layer_digest,
        "size": layer_size,
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": cfg_digest,
            "size": cfg_size,
        },
        "layers": [layer] * layers,
    }
    man_digest, man_size = _put(blobs, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": man_digest,
                "size": man_size,
                "annotations": {"org.opencontainers.image.ref.name": "stack"},
            }
        ],
    }
    (out / "index.json").write_text(json.dumps(index))
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (out / ".done").write_text("ok\n")
    return out


@dataclass
class StackResult:
    layers: int
    files: int
    layout_bytes: int = 0
    nodes: int = 0  # tree nodes after the load: every entry of every layer, root excluded
    imports_kb: int = 0
    load: Timing = field(default_factory=Timing)

    @property
    def written(self) -> int:
        """Entries written by all layers together (each layer's files and /app)."""
        return self.layers * (self.files + 1)

    @property
    def per_entry(self) -> float:
        return (self.load.rss_kb - self.imports_kb) * 1024 / max(self.written, 1)


def bench_stack(work: Path, layers: int, files: int, reps: int) -> StackResult:
    layout = build_stack(work / f"stack-{layers}x{files}", layers, files)
    ref = f"oci:{layout}:stack"
    res = StackResult(layers, files)
    res.layout_bytes = sum(p.stat().st_size for p in layout.rglob("*") if p.is_file())
    scratch = tempfile.mkdtemp(prefix="xdg-", dir=work)
    try:
        res.imports_kb = run_load(ref, "imports", scratch)[2]
        for _ in range(reps):
            secs, n, hwm, _ = run_load(ref, "nocache", scratch)
            res.nodes = n
            res.load.add(secs, hwm)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return res


def print_stack(r: StackResult) -> None:
    mark = "ok" if r.per_entry < 250 else "MISSED"
    print(
        f"\n{'deep stack (peak RSS above imports)':<44}{'layers':>8}{'written':>10}"
        f"{'seconds':>9}{'peak MiB':>10}{'B/entry':>9}  goal < 250"
    )
    print(
        f"{f'OCI {r.files}-file layer x {r.layers:,}':<44}{r.layers:>8,}{r.written:>10,}"
        f"{r.load.median:>9.2f}{r.load.rss_kb / 1024:>10.0f}{r.per_entry:>9.0f}  {mark}"
        f"  (layout {r.layout_bytes / 1e6:.2f} MB)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", type=int, default=2000)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ls-stack")
    a = ap.parse_args()
    a.work_dir.mkdir(parents=True, exist_ok=True)
    print_stack(bench_stack(a.work_dir, a.layers, a.files, a.repeat))


if __name__ == "__main__":
    main()
