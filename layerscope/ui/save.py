"""Save one file of an image to disk (no Textual here).

Rules: the name is one path component, so the file lands in the chosen directory and
nowhere else; an existing file is replaced only when the caller says so (after asking); a
symlink or directory in the way is never written through. The bytes go to a temporary file
in the same directory first, then are linked (no overwrite) or renamed (overwrite) into
place, so a failure leaves no half-written file under the chosen name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from layerscope.engine.browse.changes import Cancel
from layerscope.engine.image import Image
from layerscope.errors import Cancelled, UsageError
from layerscope.model.entry import EntryKind


class ExistsError(UsageError):
    """The target exists; ask before replacing it."""


def target_path(directory: str, name: str) -> Path:
    """The file to write, checked: `directory` must exist, `name` must be a plain name."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise UsageError(f"{name!r} is not a plain file name")
    if os.sep != "/" and os.sep in name:  # pragma: no cover - POSIX only
        raise UsageError(f"{name!r} is not a plain file name")
    base = Path(os.path.expanduser(directory or ".")).resolve()
    if not base.is_dir():
        raise UsageError(f"{base}: not a directory")
    target = base / name
    if target.parent != base:  # defence in depth: the name cannot climb out
        raise UsageError(f"{name!r} would be written outside {base}")
    return target


def check_target(target: Path, overwrite: bool) -> None:
    if target.is_symlink():
        raise UsageError(f"{target} is a symbolic link: not writing through it")
    if target.is_dir():
        raise UsageError(f"{target} is a directory")
    if target.exists() and not overwrite:
        raise ExistsError(f"{target} exists")


def save_file(
    img: Image,
    node: int,
    target: Path,
    overwrite: bool = False,
    cancel: Cancel | None = None,
) -> int:
    """Write the content of regular file `node` to `target`; returns the bytes written."""
    if img.tree.kind[node] != EntryKind.FILE:
        raise UsageError(f"{img.tree.path(node)}: only regular files can be saved")
    check_target(target, overwrite)
    # The temporary name must fit NAME_MAX (255 bytes) whatever the target's length: a
    # short fixed prefix, not the target's name (a valid 250-byte name made it too long).
    fd, tmp = tempfile.mkstemp(prefix=".layerscope-save-", suffix=".part", dir=target.parent)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in img.iter_content(node):
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled")
                out.write(chunk)
                written += len(chunk)
        os.chmod(tmp, 0o644)
        if overwrite:
            check_target(target, overwrite=True)
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if the name appeared meanwhile
            except FileExistsError:
                raise ExistsError(f"{target} exists") from None
            except OSError:
                # No hard links on this file system: check, then rename (a small race).
                check_target(target, overwrite=False)
                os.replace(tmp, target)
            else:
                os.unlink(tmp)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return written
