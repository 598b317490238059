"""Every key of the browser, in one table: bindings, the help screen, the command palette
and the tmux test are all made from it.

dive's keys are kept where a terminal can send them. Ctrl+M is Enter and Ctrl+Space is NUL
in most terminals, so their actions get plain keys as the documented defaults (3 and c);
dive's Ctrl+A in the tree pane (show added) collides with Ctrl+A (aggregated mode), which
wins, so "show added" is 1.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Key:
    keys: str  # Textual key names, comma-separated; the first is the one shown
    action: str  # an action of the view screen (or of the focused widget, for PANE keys)
    description: str
    group: str
    footer: bool = False
    palette: bool = True  # offered in the command palette
    label: str = ""  # how the help screen prints the keys, when the names are not enough
    short: str = ""  # the footer's word for it

    @property
    def footer_text(self) -> str:
        return self.short or self.description


SCREEN = "Screen"
TREE = "File tree"
PANE = "Moving"
GLOBAL = "Anywhere"

# Keys the screen binds (actions of ViewScreen).
VIEW_KEYS: tuple[Key, ...] = (
    Key(
        "tab",
        "app.focus_next",
        "Switch pane",
        SCREEN,
        footer=True,
        palette=False,
        label="Tab",
        short="Pane",
    ),
    Key(
        "shift+tab", "app.focus_previous", "Previous pane", SCREEN, palette=False, label="Shift+Tab"
    ),
    Key(
        "ctrl+l",
        "mode('layer')",
        "Show changes of the selected layer",
        SCREEN,
        footer=True,
        label="Ctrl+L",
        short="Layer",
    ),
    Key(
        "ctrl+a",
        "mode('aggregated')",
        "Show changes aggregated up to the layer",
        SCREEN,
        footer=True,
        label="Ctrl+A",
        short="Aggregate",
    ),
    Key(
        "ctrl+f,slash",
        "filter",
        "Filter paths by regex",
        TREE,
        footer=True,
        label="Ctrl+F, /",
        short="Filter",
    ),
    Key(
        "escape",
        "close_filter",
        "Close the filter (cancel loading, or comparing contents)",
        TREE,
        palette=False,
        label="Esc",
    ),
    Key(
        "ctrl+b",
        "toggle_attributes",
        "Show/hide attributes",
        TREE,
        footer=True,
        label="Ctrl+B",
        short="Attrs",
    ),
    Key(
        "ctrl+o",
        "toggle_sort",
        "Sort by size / by name",
        TREE,
        footer=True,
        label="Ctrl+O",
        short="Sort",
    ),
    Key("1", "toggle_status('A')", "Show/hide added entries", TREE, label="1"),
    Key("2,ctrl+r", "toggle_status('D')", "Show/hide removed entries", TREE, label="2, Ctrl+R"),
    Key("3", "toggle_status('M')", "Show/hide modified entries (dive: Ctrl+M)", TREE, label="3"),
    Key("4,ctrl+u", "toggle_status('U')", "Show/hide unchanged entries", TREE, label="4, Ctrl+U"),
    Key(
        "c,ctrl+space,ctrl+@",
        "toggle_all",
        "Collapse/expand all directories",
        TREE,
        label="c (dive: Ctrl+Space)",
    ),
    Key("p", "toggle_preview", "Show/hide the preview", SCREEN, label="p"),
    Key("x", "toggle_hex", "Preview as hex / as text", SCREEN, label="x"),
    Key("s", "save", "Save the selected file", SCREEN, label="s", short="Save"),
    Key(
        "i",
        "inspect",
        "Image details (apptainer inspect)",
        SCREEN,
        label="i",
        short="Inspect",
    ),
    Key(
        "f",
        "findings",
        "Findings: wasted and reclaimable bytes, caches, duplicates, secrets",
        SCREEN,
        label="f",
        short="Findings",
    ),
    Key(
        "g",
        "growth",
        "What made it big: the step's growth by directory and package, the caches and "
        "secrets it added",
        SCREEN,
        footer=True,
        label="g",
        short="Big",
    ),
    Key(
        "r",
        "portability",
        "Portability: will it run there? (architecture, x86-64 level, glibc, MPI, GPU)",
        SCREEN,
        label="r",
        short="Runs where",
    ),
)

# Keys the app binds (work on every screen).
APP_KEYS: tuple[Key, ...] = (
    Key(
        "question_mark,f1",
        "help",
        "Help: every key",
        GLOBAL,
        footer=True,
        label="?, F1",
        short="Help",
    ),
    Key("ctrl+p", "command_palette", "Command palette", GLOBAL, palette=False, label="Ctrl+P"),
    Key("q", "quit", "Quit", GLOBAL, footer=True, label="q"),
    Key("ctrl+c", "quit", "Quit (also while typing)", GLOBAL, palette=False, label="Ctrl+C"),
)
# Keys the focused pane handles itself (listed in the help screen).
PANE_KEYS: tuple[Key, ...] = (
    Key("up,k", "cursor_up", "Up", PANE, palette=False, label="↑, k"),
    Key("down,j", "cursor_down", "Down", PANE, palette=False, label="↓, j"),
    Key("left,h", "collapse", "Close directory / go to parent", PANE, palette=False, label="←, h"),
    Key("right,l", "expand", "Open directory", PANE, palette=False, label="→, l"),
    Key("space,enter", "toggle", "Open/close directory", PANE, palette=False, label="Space, Enter"),
    Key("pageup,pagedown", "page", "Page up / down", PANE, palette=False, label="PgUp, PgDn"),
    Key("home,end", "ends", "First / last line", PANE, palette=False, label="Home, End"),
)

ALL_KEYS = VIEW_KEYS + PANE_KEYS + APP_KEYS

# The diff screen: the view's tree keys (no layers, so no modes and no inspect) and `m`.
_NOT_IN_DIFF = (
    "mode('layer')",
    "mode('aggregated')",
    "inspect",
    "findings",
    "portability",
    "growth",
)
DIFF_KEYS: tuple[Key, ...] = (
    *(k for k in VIEW_KEYS if k.action not in _NOT_IN_DIFF),
    Key(
        "m",
        "metadata",
        "Metadata differences (definition, config, history, labels, packages)",
        SCREEN,
        footer=True,
        label="m",
        short="Metadata",
    ),
)
DIFF_ALL_KEYS = DIFF_KEYS + PANE_KEYS + APP_KEYS
