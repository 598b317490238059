"""present.doc.Doc as rich Text: the style names of the document become colours here, the
only place that knows them. Text from images arrives cleaned (present.text) and is added
as plain text, never as markup, so `[bold]` in a file name stays the characters it is."""

from __future__ import annotations

from rich.text import Text

from layerscope.present.doc import Doc
from layerscope.present.text import clean

STYLES = {
    "": "",
    "title": "bold underline",
    "name": "bold",
    "size": "yellow",
    "dim": "dim",
    "warn": "yellow",
    "alert": "bold red",
    "added": "green",
    "removed": "red",
    "modified": "yellow",
}


def to_text(doc: Doc) -> Text:
    out = Text()
    for n, spans in enumerate(doc.shown()):
        if n:
            out.append("\n")
        for text, style in spans:
            out.append(text, style=STYLES.get(style, ""))
    return out


def plain(text: str) -> Text:
    """A one-line label or title built from image text: cleaned, never markup."""
    return Text(clean(text))
