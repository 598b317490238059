"""Progress lines, the same in the TUI's loading bar and on the CLI's stderr."""

from __future__ import annotations

from layerscope.engine.pending import ContentProgress
from layerscope.present import units


def content_progress(p: ContentProgress) -> str:
    """`comparing contents: 1,234 of 5,000 files, 12.0 MB of 456.0 MB, 12.3 MB/s`."""
    files = f"{units.count(p.files_done)} of {units.count(p.files_total)} files"
    size = f"{units.size(p.bytes_done)} of {units.size(p.bytes_total)}"
    return f"comparing contents: {files}, {size}, {units.rate(p.bytes_done, p.seconds)}"
