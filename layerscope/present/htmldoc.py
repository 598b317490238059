"""present.doc.Doc as HTML: the third renderer of the documents the CLI prints plain and
the TUI colours (ui/richdoc.py). Style names become CSS classes (`d-title`, `d-size`...),
the only place that knows them for HTML; the text is HTML-escaped here (markupsafe, the
escaping Jinja's autoescape uses), so a name holding `<script>` or `</style>` is text.
The spans were cleaned when the Doc was built (present.text), so control characters and
bidirectional overrides show as visible escapes, as on a terminal."""

from __future__ import annotations

from markupsafe import Markup, escape

from layerscope.present.doc import Doc

__all__ = ["STYLES", "doc_html"]

STYLES = frozenset(
    {"title", "name", "size", "dim", "warn", "alert", "added", "removed", "modified"}
)


def doc_html(doc: Doc, css_class: str = "doc") -> Markup:
    """The document as one <pre> block, a line per line, each styled span a <span>."""
    out: list[str] = []
    for spans in doc.shown():
        line = []
        for text, style in spans:
            if style in STYLES:
                line.append(f'<span class="d-{style}">{escape(text)}</span>')
            else:
                line.append(str(escape(text)))
        out.append("".join(line))
    body = "\n".join(out)
    return Markup(f'<pre class="{escape(css_class)}">{body}</pre>')
