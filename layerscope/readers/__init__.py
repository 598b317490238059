"""Format I/O: one package per family (sif/, squashfs/, ext3/, oci/, registry/, tar/,
directory.py), one protocol (base.py), and one table of what opens what (detect.py)."""

from __future__ import annotations

from layerscope.readers.base import ImageReader, Traits
from layerscope.readers.detect import OpenOptions, open_image, sniff

__all__ = ["ImageReader", "OpenOptions", "Traits", "open_image", "sniff"]
