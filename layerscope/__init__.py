"""layerscope: look inside SIF, squashfs, OCI and Docker images.

The package root stays light: importing it loads neither the readers nor the UI.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
