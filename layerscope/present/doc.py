"""Doc: what a person reads, built once and shown three ways.

Every text document (inspect, check, diff, the findings, image details) is built here as a
Doc: lines of spans, each span a piece of text and a style name. The CLI prints it plain
(`lines()`), the TUI turns the style names into colours (ui/richdoc.py), the HTML report
into CSS classes. So the three never disagree, and text from the image is cleaned in one
place: every span added through `add`/`field`/`row` passes through present.text.clean
unless the caller says it is our own text (`ours=True`, for numbers and labels).

Style names: "" plain, "title" a section heading, "name" a field name, "size" a number of
bytes, "dim" secondary, "warn", "alert" (a finding), "added", "removed", "modified".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from layerscope.present.text import clean, clean_lines

__all__ = ["Doc", "Span"]

Span = tuple[str, str]  # (text, style)
NAME_WIDTH = 14


@dataclass(slots=True)
class Doc:
    lines: list[list[Span]] = field(default_factory=list)

    def title(self, text: str) -> None:
        """A section heading, after a blank line (none at the top of what is shown)."""
        self.lines.append([])
        self.lines.append([(text, "title")])

    def line(self, *spans: str | Span) -> None:
        """One line of our own text (labels, numbers): spans are not cleaned. Text from an
        image goes through `image` (or `field`, `block`), which cleans it."""
        self.lines.append([s if isinstance(s, tuple) else (s, "") for s in spans])

    def field(self, name: str, value: str, style: str = "", width: int = NAME_WIDTH) -> None:
        """`Name:         value`: the value may come from the image (it is cleaned)."""
        self.lines.append([(f"{name + ':':<{width - 1}} ", "name"), (clean(value), style)])

    def block(self, text: str, indent: str = "  ") -> None:
        """A multi-line text from the image (definition file, runscript), line by line."""
        for line in clean_lines(text.rstrip("\n")):
            self.lines.append([(indent + line, "")])

    def extend(self, other: Doc) -> None:
        self.lines.extend(other.lines)

    def shown(self) -> list[list[Span]]:
        """The lines to show: without the blank lines a leading title brings."""
        start = 0
        while start < len(self.lines) and not self.lines[start]:
            start += 1
        return self.lines[start:]

    def plain(self) -> Iterator[str]:
        """The document as plain text lines (no trailing newline)."""
        for spans in self.shown():
            yield "".join(text for text, _ in spans)


def image(text: str, style: str = "") -> Span:
    """A span of text that came from an image or a registry, cleaned."""
    return (clean(text), style)


def joined(items: Iterable[str], sep: str = ", ") -> str:
    return sep.join(clean(i) for i in items)
