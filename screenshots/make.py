"""Write the README's screenshots from the same stories the tests check.

    python screenshots/make.py            # every story
    python screenshots/make.py stages     # some of them

TUI pictures (SVG) come from tests/ui/stories.py (the app factory, fixed size and theme),
so what the README shows is what tests/ui/test_snapshots.py verifies. Report pictures
(PNG) are `layerscope report` on the fixtures, opened in headless Chromium by the client
tests/report/ uses (apt-get install chromium).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual._doc import take_svg_screenshot  # noqa: E402

from tests.ui.stories import BY_NAME, SIZE, STORIES  # noqa: E402

# name -> (report arguments, what to capture: a CSS selector or None for the top, caption)
OCI = "oci:fixtures/oci/app-layout"
REPORTS: dict[str, tuple[list[str], str | None, str]] = {
    "report_oci": ([f"{OCI}:1.0"], None, "layerscope report on a 5-layer OCI image"),
    "report_treemap": ([f"{OCI}:1.0"], "#treemap",
                       "the report's treemap: bytes by directory, coloured by layer"),
    "report_diff": ([f"{OCI}:1.0", f"{OCI}:1.1"], "#diff-1",
                    "report of two images: changed entries, filterable and sortable"),
}  # fmt: skip
HEIGHT = 900


def make_reports(names: list[str], out_dir: Path) -> None:
    import subprocess
    import tempfile

    from tests.report.chromium import Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        raise SystemExit("report screenshots need chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp, Chromium(binary, 1280, 900) as browser:
        for name in names:
            args, clip, caption = REPORTS[name]
            html = Path(tmp) / f"{name}.html"
            subprocess.run([sys.executable, "-m", "layerscope", "report", *args, "-o", str(html)],
                           check=True, capture_output=True)  # fmt: skip
            browser.load(html)
            path = out_dir / f"{name}.png"
            browser.screenshot(path, clip=clip, max_height=HEIGHT)
            print(f"{path.relative_to(ROOT)}  {caption}")


def main(names: list[str]) -> int:
    os.chdir(ROOT)  # the stories name fixtures relative to the repository
    out_dir = ROOT / "screenshots"
    make_reports([n for n in names if n in REPORTS] if names else list(REPORTS), out_dir)
    if names and all(n in REPORTS for n in names):
        return 0
    stories = [BY_NAME[n] for n in names if n not in REPORTS] if names else STORIES
    for story in stories:
        svg = take_svg_screenshot(app=story.app(), terminal_size=SIZE, run_before=story.run_before)
        path = out_dir / f"{story.name}.svg"
        path.write_text(svg, encoding="utf-8")
        print(f"{path.relative_to(ROOT)}  {story.caption}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
