"""Write the README's screenshots (SVG) from the same stories the snapshot tests check.

    python screenshots/make.py            # every story
    python screenshots/make.py stages     # some of them

The pictures come from tests/ui/stories.py (the app factory, fixed size and theme), so
what the README shows is what tests/ui/test_snapshots.py verifies.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual._doc import take_svg_screenshot  # noqa: E402

from tests.ui.stories import BY_NAME, SIZE, STORIES  # noqa: E402


def main(names: list[str]) -> int:
    os.chdir(ROOT)  # the stories name fixtures relative to the repository
    out_dir = ROOT / "screenshots"
    stories = [BY_NAME[n] for n in names] if names else STORIES
    for story in stories:
        svg = take_svg_screenshot(app=story.app(), terminal_size=SIZE, run_before=story.run_before)
        path = out_dir / f"{story.name}.svg"
        path.write_text(svg, encoding="utf-8")
        print(f"{path.relative_to(ROOT)}  {story.caption}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
