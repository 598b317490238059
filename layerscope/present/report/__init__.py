"""`layerscope report`: one self-contained HTML file built from the documents the CLI and
the TUI show (build.py gathers them, html.py renders them with the templates)."""
