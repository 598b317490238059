"""Names, labels, definition files and file contents are hostile input: in the report
they are text, never markup or script. Two sandbox directories (stages A and B) plant
`<script>`, `</script>`, `</style>`, an `<img onerror>`, terminal escapes and a
bidirectional override in file names (a path can hold `</script>`: a directory `x<` with
a file `script>` in it), labels, the definition file and a modified text file; the page
is opened in Chromium and every planted payload must show as text."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.report.chromium import Chromium
from tests.report.conftest import open_page, render

pytestmark = pytest.mark.slow

SCRIPT_DIR = "<script>window.__pwned=1;<"  # + "/script>": the path reads <script>...</script>
STYLE_DIR = "s<"  # + "/style>...": the path holds </style>
NAMES = [
    "<img src=x onerror=window.__pwned=2>",
    "title\x1b]2;pwned\x07",
    "bidi\u202egnp.exe",
    '"><svg onload=window.__pwned=7>',
]
HTML = "</script><script>window.__pwned=3</script></style><img src=y onerror=window.__pwned=4>"


def _stage(root: Path, hostile: bool) -> None:
    (root / "etc").mkdir(parents=True)
    meta = root / ".singularity.d"
    meta.mkdir()
    conf = "name = app\nmode = plain\n"
    labels = {"org.example.stage": "a"}
    definition = "Bootstrap: scratch\n"
    if hostile:
        conf = f"name = app\nmode = {HTML}\n"
        labels = {f"k{HTML}": f"\x1b]2;pwned\x07{HTML}"}
        definition += f"%post\n\techo '</textarea></pre>{HTML}'\n"
        (root / SCRIPT_DIR).mkdir()
        (root / SCRIPT_DIR / "script>").write_text("x" * 5000)
        (root / STYLE_DIR).mkdir()
        (root / STYLE_DIR / 'style><b id="injected">x').write_text("y" * 3000)
        for name in NAMES:
            with open(os.path.join(root, "etc", name), "w") as f:
                f.write("data\n" * 400)
    (root / "etc" / "app.conf").write_text(conf)
    (meta / "labels.json").write_text(json.dumps(labels))
    (meta / "Singularity").write_text(definition)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("hostile-report")
    a, b = work / "a", work / "b"
    _stage(a, False)
    _stage(b, True)
    return render(work / "hostile.html", "--no-cache", str(a), str(b))


def test_hostile_text_is_text(browser: Chromium, page: Path) -> None:
    open_page(browser, page)  # a CSP violation or a fetch of x or y would show here

    def js(expr: str) -> object:
        return browser.evaluate(expr)

    assert js("typeof window.__pwned") == "undefined"
    assert js("document.scripts.length") == 2  # the treemap's data and ours
    assert js("document.querySelectorAll('style').length") == 1
    assert js("document.querySelectorAll('img, #injected, main svg svg').length") == 0
    text = str(js("document.body.textContent"))
    assert "<script>window.__pwned=1;</script>" in text  # the path, in the changes table
    assert '</style><b id="injected">x' in text
    assert "<img src=x onerror=window.__pwned=2>" in text
    assert HTML in text  # the modified file's diff, the labels, the definition file
    assert "\\x1b]2;pwned\\x07" in text and "\\u202e" in text  # visible escapes
    assert "\x1b" not in text and "\u202e" not in text


def test_treemap_draws_hostile_names_as_text(browser: Chromium, page: Path) -> None:
    open_page(browser, page)
    data = json.loads(browser.evaluate("document.getElementById('treemap-data').textContent"))
    names = [n[0] for n in data["nodes"]]
    assert SCRIPT_DIR in names and "script>" in names  # the data keeps the names as text
    target = names.index(SCRIPT_DIR)
    assert data["nodes"][target][7] >= 0  # it has a view: the script draws it when clicked
    browser.evaluate(
        f"document.querySelector('#tm g[data-n=\"{target}\"] rect')"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
    )
    crumbs = browser.evaluate("document.getElementById('tm-crumbs').textContent")
    assert str(crumbs).startswith("/" + SCRIPT_DIR)
    titles = browser.evaluate(
        "Array.from(document.querySelectorAll('#tm title')).map(t => t.textContent).join('|')"
    )
    assert "/<script>window.__pwned=1;</script> — " in str(titles)
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    assert browser.evaluate("document.querySelectorAll('img, #injected, #tm svg').length") == 0
