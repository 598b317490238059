"""The NVIDIA driver a CUDA runtime needs, from NVIDIA's published table.

Source: the CUDA Toolkit release notes, "CUDA Toolkit and Corresponding Driver Versions"
(Linux x86_64 column) and the CUDA Compatibility guide's minor-version-compatibility
floors, as published up to CUDA 13.0 (August 2025). Each row is the driver shipped with a
minor version's first release (GA); its later updates may name a slightly newer one.
Since CUDA 11, a runtime also runs on an older driver of the same major series, with a
limited feature set (no PTX JIT of newer code): that floor is `minor_compat`.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerscope.model.portability.versions import parse_version

__all__ = ["TABLE_DATE", "DriverNeed", "driver_for"]

TABLE_DATE = "2025-08 (CUDA 13.0)"

# (major, minor) -> Linux x86_64 driver of that toolkit's GA release
TOOLKIT_DRIVER: dict[tuple[int, int], str] = {
    (7, 0): "346.46",
    (7, 5): "352.31",
    (8, 0): "367.48",
    (9, 0): "384.81",
    (9, 1): "390.46",
    (9, 2): "396.26",
    (10, 0): "410.48",
    (10, 1): "418.39",
    (10, 2): "440.33",
    (11, 0): "450.36.06",
    (11, 1): "455.23",
    (11, 2): "460.27.03",
    (11, 3): "465.19.01",
    (11, 4): "470.42.01",
    (11, 5): "495.29.05",
    (11, 6): "510.39.01",
    (11, 7): "515.43.04",
    (11, 8): "520.61.05",
    (12, 0): "525.60.13",
    (12, 1): "530.30.02",
    (12, 2): "535.54.03",
    (12, 3): "545.23.06",
    (12, 4): "550.54.14",
    (12, 5): "555.42.02",
    (12, 6): "560.28.03",
    (12, 8): "570.26",
    (12, 9): "575.51.03",
    (13, 0): "580.65.06",
}
# major -> the oldest driver minor version compatibility accepts
MINOR_COMPAT: dict[int, str] = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}


@dataclass(frozen=True, slots=True)
class DriverNeed:
    cuda: str  # the runtime's version as found
    driver: str | None  # the toolkit's driver (None: a version the table does not list)
    minor_compat: str | None  # the floor with minor version compatibility (CUDA >= 11)
    newer_than_table: bool = False  # a runtime newer than every row: the table is older


def driver_for(cuda_version: str) -> DriverNeed:
    """The driver that CUDA runtime `cuda_version` ("12.2.140", "12.2", "11") needs."""
    nums = parse_version(cuda_version)
    if not nums:
        return DriverNeed(cuda_version, None, None)
    major = nums[0]
    compat = MINOR_COMPAT.get(major)
    if len(nums) < 2:
        return DriverNeed(cuda_version, None, compat)
    key = (major, nums[1])
    newest = max(TOOLKIT_DRIVER)
    return DriverNeed(cuda_version, TOOLKIT_DRIVER.get(key), compat, key > newest)
