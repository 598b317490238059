"""layerscope.engine.analysis: the I/O glue that feeds the pure analyses (budget, progress,
cancellation, JSON), on real fixtures."""

from __future__ import annotations

import json
import threading

import pytest

from layerscope.engine.analysis import AnalysisOptions, analyze, ci_metrics
from layerscope.engine.loading import load_image
from layerscope.errors import Cancelled
from layerscope.model.bloat.secret_rules import is_candidate, path_kind
from layerscope.present.analysis import report_json, summary_json
from tests.conftest import EXPECTED, FIXTURES

APP = f"oci:{FIXTURES}/oci/app-layout:1.0"


def _tar_data_bytes(prefix: str, layers: int) -> int:
    """Regular-file data in the layer blobs, from `tar -tv` (reference): each copy once."""
    total = 0
    for n in range(1, layers + 1):
        for line in (EXPECTED / "oci" / f"{prefix}.layer{n}.tv.txt").read_text().splitlines():
            if line.startswith("-") and "/.wh." not in line:
                total += int(line.split()[2])
    return total


def test_app_1_0_report() -> None:
    img = load_image(APP)
    try:
        steps: list[tuple[str, int, int]] = []
        r = analyze(img, progress=lambda what, i, n: steps.append((what, i, n)))
    finally:
        img.close()
    assert len([s for s in steps if s[0].startswith("analysing: ")]) == 7
    # the content read tells its bytes as it goes, up to all of them
    read = [(i, n) for what, i, n in steps if what.startswith(("reading contents", "contents"))]
    assert read and read[-1][0] == read[-1][1] > 0
    assert [i for i, _ in read] == sorted(i for i, _ in read)
    assert r.image_bytes == _tar_data_bytes("app-1.0", 5)
    assert r.image_bytes == r.final_bytes + r.waste.total
    assert r.deep_secrets and r.secrets_complete  # every text file, tar layers too
    assert {s.location for s in r.secrets} == {"/root/.ssh/id_rsa", "/app/.env"}
    assert r.waste_classes["/var/cache/apt/archives/libssl3_3.0.11-1_amd64.deb"] == "apt-cache"
    doc = report_json(r)
    text = json.dumps(doc, allow_nan=False)  # strict JSON: no NaN for a missing ratio
    assert "layerscope-dummy" not in text
    assert doc["sizes"]["reclaimable_bytes"] == r.waste.total
    m = ci_metrics(r)
    assert m.secrets == 5 and m.reclaimable_bytes == r.waste.total
    summary = summary_json(r)
    assert summary["secrets_recoverable"] == 5
    assert summary["reclaimable_bytes"] == doc["reclaimable"]["total"]


def test_a_zero_budget_reads_nothing_but_paths_still_count() -> None:
    img = load_image(APP)
    try:
        r = analyze(img, AnalysisOptions(read_budget=0))
    finally:
        img.close()
    assert r.bytes_read == 0
    assert any("budget" in n for n in r.notes)
    assert not r.secrets_complete and ci_metrics(r).secrets_incomplete
    assert {(s.location, s.how) for s in r.secrets} == {
        ("/root/.ssh/id_rsa", "path"),
        ("/app/.env", "path"),
    }
    # without reading, the mode-only rewrite of run.sh cannot be called attribute-only
    assert "attribute-only" not in r.waste.by_reason


def test_cancel() -> None:
    img = load_image(APP)
    stop = threading.Event()
    stop.set()
    try:
        with pytest.raises(Cancelled):
            analyze(img, cancel=stop)
    finally:
        img.close()


def test_sif_single_layer() -> None:
    img = load_image(str(FIXTURES / "sif" / "stage1.sif"))
    try:
        r = analyze(img)
    finally:
        img.close()
    assert r.deep_secrets and r.secrets_complete
    assert r.secrets == [] and r.waste.total == 0
    assert r.dive is not None and r.dive.efficiency == 1.0
    assert r.dive.user_wasted_percent is None
    assert json.loads(json.dumps(report_json(r)))["dive"]["user_wasted_percent"] is None
    assert {j.cls for j in r.junk} == {"apt-cache", "apt-lists"}


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/root/.ssh/id_ed25519", "ssh-private-key"),
        ("/etc/ssh/ssh_host_rsa_key", "ssh-host-key"),
        ("/app/.env.production", "dotenv"),
        ("/app/.env.example", None),
        ("/root/.netrc", "netrc"),
        ("/home/u/.aws/credentials", "aws-credentials"),
        ("/root/.git-credentials", "git-credentials"),
        ("/root/.kube/config", "kubeconfig"),
        ("/root/.config/gcloud/legacy_credentials/me@x/adc.json", "gcp-credentials"),
        ("/root/.azure/msal_token_cache.json", "azure-credentials"),
        ("/srv/cert.p12", "keystore"),
        ("/etc/app/config", None),
        ("/root/.ssh/id_rsa.pub", None),
    ],
)
def test_path_rules(path: str, kind: str | None) -> None:
    assert path_kind(path) == kind
    if kind is not None:
        assert is_candidate(path)
