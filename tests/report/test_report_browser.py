"""`layerscope report` opened in a real headless Chromium: the numbers in the DOM are the
ones `check --json` and `diff --json` print, nothing is fetched, no console error, and the
drill-down, filters and sorting work (the static parts without JavaScript too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.run import cli
from tests.report.chromium import Chromium
from tests.report.conftest import OCI, SIF, card, dom_values, open_page, render

pytestmark = pytest.mark.slow


def _json(cap: pytest.CaptureFixture[bytes], *args: str) -> Any:
    """The oracle: the CLI's own JSON, in-process."""
    r = cli(cap, *args, "--json")
    assert r.code in (0, 1), r.err
    return r.json()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("reports")
    stages = [str(SIF / n) for n in ("stage1.sif", "stage2.sif", "final.sif")]
    return {
        "sif": render(work / "sif.html", str(SIF / "final.sif")),
        "stages": render(work / "stages.html", *stages),
        "oci": render(work / "oci.html", f"{OCI}:1.0"),
        "two": render(work / "two.html", f"{OCI}:1.0", f"{OCI}:1.1"),
    }


def _summary_matches_check(browser: Chromium, cap: pytest.CaptureFixture[bytes], ref: str) -> None:
    analysis = _json(cap, "check", ref)["analysis"]
    sizes = analysis["sizes"]
    for key, element in (
        ("final_bytes", "sum-final-bytes"),
        ("image_bytes", "sum-image-bytes"),
        ("reclaimable_bytes", "sum-reclaimable-bytes"),
        ("cache_bytes", "sum-cache-bytes"),
        ("duplicate_savings_bytes", "sum-duplicate-bytes"),
    ):
        assert int(card(browser, element)) == sizes[key], key
    assert float(card(browser, "sum-efficiency")) == analysis["dive"]["efficiency"]
    assert int(card(browser, "sum-wasted-bytes")) == analysis["dive"]["wasted_bytes"]
    assert int(card(browser, "sum-secrets")) == len(analysis["secrets"]["findings"])
    by_reason = dom_values(browser, "#reclaimable-by-reason td[data-bytes]", "data-bytes")
    assert [int(v) for v in by_reason] == list(analysis["reclaimable"]["by_reason"].values())
    by_layer = dom_values(browser, "#reclaimable-by-layer td[data-bytes]", "data-bytes")
    want = [
        n for row in analysis["reclaimable"]["by_layer"] for n in (row["written"], row["hidden"])
    ]
    assert [int(v) for v in by_layer] == want
    # the treemap adds up to the final tree, hard-linked content once
    data = json.loads(browser.evaluate("document.getElementById('treemap-data').textContent"))
    assert data["nodes"][0][2] == sizes["final_bytes"]


def _steps(browser: Chromium) -> list[dict[str, int]]:
    rows = browser.evaluate(
        "Array.from(document.querySelectorAll('#steps-table tbody tr')).map(r => "
        "Object.fromEntries(Object.entries(r.dataset).map(([k, v]) => [k, Number(v)])))"
    )
    assert isinstance(rows, list)
    return rows


def _diff_cards(browser: Chromium, section: str) -> dict[str, int]:
    got = browser.evaluate(
        f"Object.fromEntries(Array.from(document.querySelectorAll('#{section} [data-key]'))"
        ".map(e => [e.dataset.key, Number(e.dataset.value)]))"
    )
    assert isinstance(got, dict)
    return got


def test_sif_report_numbers_are_checks(
    browser: Chromium, reports: dict[str, Path], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    open_page(browser, reports["sif"])
    _summary_matches_check(browser, capsysbinary, str(SIF / "final.sif"))
    (step,) = _steps(browser)  # one partition: everything it holds is added
    assert step["added"] == step["tree"] == int(card(browser, "sum-final-bytes"))
    assert step["nRemoved"] == 0


def test_oci_layers_grow_as_diff_layer_says(
    browser: Chromium, reports: dict[str, Path], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    open_page(browser, reports["oci"])
    _summary_matches_check(browser, capsysbinary, f"{OCI}:1.0")
    steps = _steps(browser)
    assert len(steps) == 5
    for n, step in enumerate(steps):
        s = _json(capsysbinary, "diff", f"{OCI}:1.0", "--layer", str(n))["summary"]
        assert (step["added"], step["removed"]) == (s["bytes_added"], s["bytes_removed"]), n
        assert (step["nAdded"], step["nRemoved"], step["nModified"]) == (
            s["added"],
            s["removed"],
            s["modified"],
        ), n
        assert step["tree"] == s["size_b"] and step["net"] == s["size_b"] - s["size_a"], n


def test_stage_diffs_are_diff_json(
    browser: Chromium, reports: dict[str, Path], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    open_page(browser, reports["stages"])
    _summary_matches_check(browser, capsysbinary, str(SIF / "final.sif"))
    names = ("stage1.sif", "stage2.sif", "final.sif")
    steps = _steps(browser)
    assert len(steps) == 3
    for i in (1, 2):
        want = _json(capsysbinary, "diff", str(SIF / names[i - 1]), str(SIF / names[i]))
        assert _diff_cards(browser, f"diff-{i}") == {
            k: want["summary"][k]
            for k in ("added", "removed", "modified", "bytes_added", "bytes_removed",
                      "size_a", "size_b")
        }  # fmt: skip
        assert (steps[i]["added"], steps[i]["removed"]) == (
            want["summary"]["bytes_added"],
            want["summary"]["bytes_removed"],
        )
        listed = browser.evaluate(
            f"document.querySelectorAll('#diff-{i} table.changes tbody tr').length"
        )
        assert listed == len(want["added"]) + len(want["removed"]) + len(want["modified"])
    # the treemap is coloured by the stage that last wrote each path
    data = json.loads(browser.evaluate("document.getElementById('treemap-data').textContent"))
    owner = {n[0]: n[3] for n in data["nodes"]}
    added_by_stage2 = {e["path"].rsplit("/", 1)[1] for e in _json(
        capsysbinary, "diff", str(SIF / names[0]), str(SIF / names[1]))["added"]}  # fmt: skip
    assert "model.bin" in added_by_stage2 and owner["model.bin"] == 1
    assert data["owners"] == list(names)
    # the definition files differ: the metadata diff shows it as a unified diff
    text = browser.evaluate("document.getElementById('diff-2').textContent")
    assert "Definition file" in text and "+From: stage2.sif" in text


def test_two_images_filter_and_sort(
    browser: Chromium, reports: dict[str, Path], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    open_page(browser, reports["two"])
    want = _json(capsysbinary, "diff", f"{OCI}:1.0", f"{OCI}:1.1")
    cards = _diff_cards(browser, "diff-1")
    assert (
        cards["added"] == want["summary"]["added"] and cards["size_b"] == want["summary"]["size_b"]
    )
    rows = "#diff-1 table.changes tbody tr"
    shown = f"Array.from(document.querySelectorAll('{rows}')).filter(r => !r.hidden)"
    # filter by text: the rows whose path holds it
    browser.evaluate(
        "(() => { const i = document.querySelector('#diff-1 input[type=search]');"
        " i.value = '/usr/'; i.dispatchEvent(new Event('input')); })()"
    )
    paths = [e["path"] for e in want["added"] + want["removed"]] + [
        m["path"] for m in want["modified"]
    ]
    assert browser.evaluate(f"{shown}.length") == sum("/usr/" in p for p in paths) > 0
    # and by status
    browser.evaluate(
        "(() => { document.querySelector('#diff-1 input[type=search]').value = '';"
        " const c = document.querySelector('#diff-1 input[value=added]');"
        " c.checked = false; c.dispatchEvent(new Event('change')); })()"
    )
    statuses = browser.evaluate(f"{shown}.map(r => r.className)")
    assert statuses and "added" not in statuses
    assert len(statuses) == len(want["removed"]) + len(want["modified"])
    # sort by delta, largest first
    browser.evaluate("document.querySelectorAll('#diff-1 table.changes th')[5].click()")
    deltas = browser.evaluate(f"{shown}.map(r => Number(r.cells[5].dataset.v))")
    assert deltas == sorted(deltas, reverse=True) and deltas[0] > deltas[-1]
    # text diffs of modified text files
    assert (
        browser.evaluate("document.querySelectorAll('#diff-1 details.file pre.udiff').length") > 0
    )


def test_treemap_drill_down_and_back(browser: Chromium, reports: dict[str, Path]) -> None:
    open_page(browser, reports["oci"])
    crumbs = "document.getElementById('tm-crumbs').textContent"
    assert browser.evaluate(crumbs).startswith("/  ")
    drawn = (
        "Array.from(document.querySelectorAll('#tm g')).map(g => [g.dataset.n, g.className.baseVal,"
        " ...['x', 'y', 'width', 'height', 'fill', 'class'].map("
        "a => g.querySelector('rect').getAttribute(a)), g.textContent])"
    )
    static = browser.evaluate(drawn)  # the top view as the page holds it (Python's layout)
    target = browser.evaluate(
        "(() => { const g = document.querySelector('#tm g.drill');"
        " const n = Number(g.dataset.n);"
        " g.querySelector('rect').dispatchEvent(new MouseEvent('click', {bubbles: true}));"
        " return n; })()"
    )
    data = json.loads(browser.evaluate("document.getElementById('treemap-data').textContent"))
    node, parts = target, []
    while node > 0:
        parts.append(data["nodes"][node][0])
        node = data["nodes"][node][1]
    path = "/" + "/".join(reversed(parts))
    assert browser.evaluate(crumbs).startswith(path + "  ")
    assert browser.evaluate("document.querySelectorAll('#tm rect').length") > 0
    # hover names the rectangle's path and size
    browser.evaluate(
        "document.querySelector('#tm rect')"
        ".dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))"
    )
    assert browser.evaluate("document.getElementById('tm-hover').textContent").startswith(path)
    browser.evaluate("document.getElementById('tm-up').click()")
    assert browser.evaluate(crumbs).startswith("/  ")
    # the script draws the top view again exactly as the static page had it
    assert browser.evaluate(drawn) == static and len(static) > 10


def test_static_parts_work_without_javascript(browser: Chromium, reports: dict[str, Path]) -> None:
    browser.call("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        open_page(browser, reports["two"])
        assert browser.call("Runtime.evaluate", {"expression": "1"}).get("result") is not None
        dom = browser.dom()
    finally:
        browser.call("Emulation.setScriptExecutionDisabled", {"value": False})
    # tables, summary and the treemap's top view are in the markup itself
    assert dom.count('<tr class="added">') > 0 and 'id="sum-final-bytes"' in dom
    assert dom.count("<rect ") > 5
    assert '<div class="filter" hidden="">' in dom  # the filter needs the script: not shown


def test_screenshot(browser: Chromium, reports: dict[str, Path], tmp_path: Path) -> None:
    open_page(browser, reports["stages"])
    out = tmp_path / "shot.png"
    browser.screenshot(out, clip="#treemap")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
