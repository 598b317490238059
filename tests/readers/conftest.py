"""Fixtures the ext3 reader's test modules share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.readers.ext3_reference import cut_overlay


@pytest.fixture(scope="module")
def overlay_img(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """with-overlay.sif's ext3 overlay partition, cut out into a file of its own."""
    return cut_overlay(tmp_path_factory)
