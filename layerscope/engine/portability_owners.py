"""Which package installed a file, and the digest it recorded: the one question the
portability report asks a package database ("is this a distribution file, unchanged?").

`ownership(img)` is the switch between the report and the package databases: it reads
them through layerscope.engine.owners (dpkg, apk, rpm, Python, conda) and hands the report
plain records. An analysis that has read them already passes its FileOwners in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from layerscope.engine.image import Image
from layerscope.engine.owners import FileOwners, owners
from layerscope.model.portability.report import PackageRef

__all__ = ["Ownership", "Record", "ownership"]


@dataclass(frozen=True, slots=True)
class Record:
    package: PackageRef
    algo: str | None  # a hashlib name; None: no digest recorded
    digest: bytes | None


@dataclass(slots=True)
class Ownership:
    known: bool  # some database lists files (a path no record names was put by hand)
    packages: list[PackageRef] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: FileOwners | None = None

    def record(self, path: str) -> Record | None:
        rec = self.files.record(path) if self.files is not None else None
        if rec is None:
            return None
        pkg = rec.package
        return Record(PackageRef(pkg.manager, pkg.name, pkg.version), rec.algo, rec.digest)


def ownership(img: Image, files: FileOwners | None = None) -> Ownership:
    """The package databases of `img`, each file by the path it has in the tree."""
    fo = files if files is not None else owners(img)
    packages = [PackageRef(p.manager, p.name, p.version) for p in fo.packages]
    return Ownership(len(fo) > 0, packages, list(fo.problems), fo)
