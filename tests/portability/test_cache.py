"""What the portability report remembers: a SIF seen before reads no file again, and a
layer two OCI images share is read for one of them only (facts per layer in the index
cache); the same content in another stage is parsed once per process."""

from __future__ import annotations

from pathlib import Path

import layerscope
from layerscope.engine.portability import portability
from tests.portability.conftest import BIN
from tests.portability_support import layer_tar, make_oci


def test_a_sif_seen_before_reads_nothing(stages: list[Path]) -> None:
    with layerscope.open(str(stages[2])) as img:
        first = portability(img)
    with layerscope.open(str(stages[2])) as img:
        again = portability(img)
    assert first.read_files == 3 and again.read_files == again.read_bytes == 0
    assert (again.isa.level, again.isa.set_by) == (first.isa.level, first.isa.set_by)
    with layerscope.open(str(stages[2]), use_cache=False) as img:
        assert portability(img).read_files == 3  # --no-cache: nothing kept, nothing read


def test_shared_layers_are_read_once(programs: dict[str, Path], tmp_path: Path) -> None:
    base = layer_tar({f"{BIN}/base": programs["base"].read_bytes(),
                      f"{BIN}/v3": programs["v3"].read_bytes()})  # fmt: skip
    extra = layer_tar({f"{BIN}/avx512f": programs["avx512f"].read_bytes()})
    a = make_oci(tmp_path / "a", [base])
    b = make_oci(tmp_path / "b", [base, extra])
    with layerscope.open(a) as img_a, layerscope.open(b) as img_b:
        assert img_a.meta.layers[0].id == img_b.meta.layers[0].id  # the same blob
        ra = portability(img_a)
        rb = portability(img_b)
    assert ra.read_files == 2
    assert rb.read_files == 1  # only the layer A does not have
    assert rb.isa.set_by == [f"{BIN}/avx512f"] and ra.isa.set_by == [f"{BIN}/v3"]
