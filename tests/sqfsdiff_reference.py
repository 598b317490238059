"""sqfsdiff (squashfs-tools-ng) run live on two squashfs images, its report parsed, and
`layerscope diff --json` put in the same terms."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import require_tool

# sqfsdiff's words for what changed -> layerscope's field (None: squashfs-internal, such
# as an inode becoming the extended kind because it gained a hard link or xattrs)
_REASONS = {
    "has different permissions": "mode",
    "has different ownership": "owner",
    "has a different link target": "target",
    "has an extended type": None,
}


@dataclass
class Changes:
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    modified: dict[str, set[str]] = field(default_factory=dict)  # path -> fields


def sqfsdiff(a: Path, b: Path) -> Changes:
    """What `sqfsdiff -a A -b B` reports (contents compared too), absolute paths."""
    tool = require_tool("sqfsdiff")
    proc = subprocess.run(
        [tool, "-a", str(a), "-b", str(b)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode in (0, 1), proc.stderr
    out = Changes()
    for line in proc.stdout.splitlines():
        if line.startswith("< "):
            out.removed.add("/" + line[2:])
        elif line.startswith("> "):
            out.added.add("/" + line[2:])
        elif line.startswith("regular file ") and line.endswith(" differs"):
            path = line.removeprefix("regular file ").removesuffix(" differs")
            out.modified.setdefault(path, set()).add("content")
        else:
            path, _, reason = line.partition(" ")
            assert reason in _REASONS, f"unknown sqfsdiff line: {line!r}"
            what = _REASONS[reason]
            if what is not None:
                out.modified.setdefault(path, set()).add(what)
    return out


def layerscope_changes(doc: dict[str, Any]) -> Changes:
    """A `diff --json` document in sqfsdiff's terms: sqfsdiff says "content" where sizes
    differ, so "size" is left out of the modified fields."""
    return Changes(
        {e["path"] for e in doc["added"]},
        {e["path"] for e in doc["removed"]},
        {m["path"]: set(m["changes"]) - {"size"} for m in doc["modified"]},
    )
