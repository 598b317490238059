"""One headless Chromium per test module, and reports rendered by the real CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.run import proc
from tests.conftest import FIXTURES, require_tool
from tests.report.chromium import Chromium, PageLoad

SIF = FIXTURES / "sif"
OCI = f"oci:{FIXTURES / 'oci' / 'app-layout'}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    with Chromium(require_tool("chromium")) as c:
        yield c


def render(out: Path, *args: str) -> Path:
    """`layerscope report ARGS -o OUT` as a real process; the file it wrote."""
    r = proc("report", *args, "-o", str(out), timeout=240)
    assert r.code == 0, r.err
    assert "Traceback" not in r.err
    assert out.is_file()
    return out


def open_page(browser: Chromium, path: Path) -> PageLoad:
    """Load a report and check what every report must: nothing fetched but the file itself,
    no console message (a CSP violation would be one), no uncaught exception."""
    page = browser.load(path)
    assert page.requests == [page.url], page.requests
    assert page.console == [], page.console
    assert page.exceptions == [], page.exceptions
    return page


def dom_values(browser: Chromium, selector: str, attr: str) -> list[Any]:
    import json

    got = browser.evaluate(
        f"Array.from(document.querySelectorAll({json.dumps(selector)}))"
        f".map(e => e.getAttribute({json.dumps(attr)}))"
    )
    assert isinstance(got, list)
    return got


def card(browser: Chromium, element_id: str) -> str:
    import json

    got = browser.evaluate(f"document.getElementById({json.dumps(element_id)}).dataset.value")
    assert isinstance(got, str), element_id
    return got
