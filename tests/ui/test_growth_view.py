"""The growth the TUI shows on real stages (tests/growth_stages.py: mksquashfs images with
150 hard links, a removed /usr/share/doc, a dpkg package that grows, a pip cache): the
layers table's signed human sizes, each entry's delta in the tree, the details panes, and
the "what made it big" panel (g)."""

from __future__ import annotations

import re

from textual.widgets import Static

from layerscope.present import units
from layerscope.ui.screens.inspect import GrowthScreen
from layerscope.ui.widgets.details import DetailsPane
from layerscope.ui.widgets.layers import LayersTable
from tests.growth_stages import DOC, Files, Stages, reference_growth
from tests.ui.helpers import running, sync, tree_of
from tests.ui.stories import settle

HUMAN = re.compile(r"^[+-]\d+(\.\d)? [kMGT]?B$|^0 B$")


def _pane(screen: object, pane: str) -> str:
    return str(screen.query_one(pane, DetailsPane).text)  # type: ignore[attr-defined]


def test_layers_table_and_tree_show_signed_human_sizes(
    growth_stages: Stages, growth_listings: list[Files]
) -> None:
    @sync
    async def run() -> None:
        async with running(*map(str, growth_stages.images)) as (pilot, screen):
            table = screen.query_one(LayersTable)
            before: Files = {}
            for row, files in enumerate(growth_listings):
                added, removed, modified = reference_growth(before, files)
                cells = [str(c) for c in table.get_row_at(row)]
                net_cell, added_cell, removed_cell = cells[2:5]
                for cell in (net_cell, added_cell, removed_cell):
                    assert HUMAN.match(cell), cell  # "+1.3 GB", never "1,346,215,338 B"
                assert net_cell == units.signed_size(added - removed + modified)
                assert added_cell == units.signed_size(added)
                assert removed_cell == units.signed_size(-removed)
                before = files
            # stage 2 removed /usr/share/doc: a minus, in the table and in the tree
            assert table.get_row_at(1)[4] == "-103.0 kB"
            await pilot.press("down")
            await settle(pilot)
            tree = tree_of(screen)
            assert tree.rows is not None
            line = next(
                i for i, d in enumerate(tree.rows.ids) if tree.rows.cs.path(d) == "/usr/share/doc"
            )
            text = tree.line_text(line)
            assert text.startswith("D ")
            assert f" -{units.size(sum(DOC.values()))} " in text  # "-103.0 kB" beside its size
            assert "U 0 B" not in text
            details = _pane(screen, "#layer-details")
            changes = details.split("Changes\n")[1].splitlines()
            removed_line = next(s for s in changes if s.startswith("D "))
            assert removed_line.endswith(f"  -{units.size(sum(DOC.values()))}")  # 6 entries
            net_line = next(s for s in changes if s.split()[0] == "net")
            added, removed, modified = reference_growth(growth_listings[0], growth_listings[1])
            assert net_line.endswith("  " + units.signed_size(added - removed + modified))
            assert "Stage tree:" in _pane(screen, "#image-details")
            assert "Final tree" not in _pane(screen, "#image-details")

    run()


def test_what_made_it_big_lists_directories_packages_caches_secrets(growth_stages: Stages) -> None:
    @sync
    async def run() -> None:
        async with running(*map(str, growth_stages.images)) as (pilot, _screen):
            await pilot.press("down", "g")
            await settle(pilot)
            assert isinstance(pilot.app.screen, GrowthScreen)
            text = str(pilot.app.screen.query_one("#inspect-text", Static).render())
            lines = text.splitlines()
            grew = lines.index("Directories that grew most")
            assert lines[grew + 1].split() == ["+500.0", "kB", "/opt/app"]  # the top one
            shrank = lines.index("Directories that shrank most")
            assert lines[shrank + 1].split() == ["-103.0", "kB", "/usr/share/doc"]
            packages = next(i for i, s in enumerate(lines) if s.startswith("Packages"))
            # the package's new file (250 kB) and its rewritten list; the rest is nobody's
            first = lines[packages + 1].split()
            assert first[2:5] == ["dpkg", "bigpkg", "1.0"]
            assert first[0] == "+250.0"
            assert any("no package" in s for s in lines[packages:])
            assert any("/root/.cache/pip" in s and "pip-cache" in s for s in lines)
            assert any("/app/.env" in s and "dotenv" in s and "by name" in s for s in lines)
            await pilot.press("g")  # closes it
            await settle(pilot)
            assert not isinstance(pilot.app.screen, GrowthScreen)

    run()


def test_growth_key_is_listed() -> None:
    from layerscope.ui.keys import DIFF_KEYS, VIEW_KEYS

    key = next(k for k in VIEW_KEYS if k.action == "growth")
    assert key.keys == "g" and key.footer
    assert all(k.action != "growth" for k in DIFF_KEYS)
