"""One tar header -> one Entry: the per-member half of the layer parser (reader.iter_tar
moves the window over the stream, this decodes what is in it).

`Members.entry` runs once per member of every layer listed, so the common case (a ustar or
GNU header without extension records, its fields repeated across the layer) stays in one
function with each repeated field parsed once and cached; names that need cleaning, links,
devices, PAX records and sparse members go through the helpers below it.
"""

from __future__ import annotations

from zlib import adler32

from layerscope import limits
from layerscope.errors import where
from layerscope.model.entry import Entry, EntryKind, decode_name, normalize_path
from layerscope.readers.tar.fields import (
    PaxRecords,
    adler_for,
    check_header,
    ext_path,
    has_dotdot,
    parse_ids,
    parse_mtime,
    parse_num,
    parse_pax,
    parse_size,
    path_of,
    pax_overrides,
    sparse_size,
)

_FILE, _DIR, _SYMLINK = EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK
_KINDS = {
    48: _FILE,  # '0'
    0: _FILE,  # '\0' (old tar)
    55: _FILE,  # '7' contiguous
    49: _FILE,  # '1' hard link: a FILE with Entry.hardlink set
    50: _SYMLINK,  # '2'
    51: EntryKind.CHAR,  # '3'
    52: EntryKind.BLOCK,  # '4'
    53: _DIR,  # '5'
    54: EntryKind.FIFO,  # '6'
    68: _DIR,  # 'D' GNU dumpdir: a directory whose data lists its names
    83: _FILE,  # 'S' GNU old sparse
}
EXT_TYPES = frozenset(b"xgLKXV")  # metadata members: never yielded
_NO_DATA = frozenset(b"123456")  # links, devices, dirs, fifos: any size field is not data
_CACHE_CAP = 4096  # distinct values kept per field cache (a hostile layer has no end of them)

LinkFields = tuple["str | None", "str | None", "tuple[int, int] | None"]


class PathNotes:
    """Member names (and hard-link targets) holding '..' that were cleaned lexically and
    clamped at the root, as runtimes place them (umoci: filepath.Join("/", name) cleaned),
    reported as one warning per layer: the first few by name, then how many more."""

    SHOWN = 8

    def __init__(self, source: str) -> None:
        self.source = source
        self.count = 0
        self.shown: list[str] = []

    def add(self, raw: str, clean: str, what: str = "") -> None:
        self.count += 1
        if len(self.shown) < self.SHOWN:
            self.shown.append(f"{what}{raw} -> {clean}")

    def warnings(self) -> list[str]:
        if not self.count:
            return []
        more = self.count - len(self.shown)
        listed = "; ".join(self.shown) + (f"; and {more} more" if more else "")
        return [
            f"{self.source}: {self.count} name(s) with '..' resolved lexically, never above /, "
            f"as a runtime extracts them: {listed}"
        ]


class Members:
    """Per-layer state of the header parser: field caches, pending extension records,
    the entry count and path caps. `name` names the layer in errors."""

    __slots__ = (
        "chk_cache",
        "count",
        "ext",
        "glob",
        "id_cache",
        "long_link",
        "long_name",
        "max_entries",
        "mtime_cache",
        "name",
        "notes",
        "paths",
        "quick",
        "size_cache",
        "xbudget",
    )

    def __init__(self, name: str, notes: PathNotes | None = None) -> None:
        self.name = name
        self.notes = notes
        self.ext: PaxRecords | None = None  # pending per-member PAX records
        self.glob: PaxRecords | None = None  # PAX global records
        self.long_name: bytes | None = None
        self.long_link: bytes | None = None
        self.id_cache: dict[bytes, tuple[int, int, int]] = {}
        self.mtime_cache: dict[bytes, int] = {}
        self.chk_cache: dict[bytes, int] = {}
        self.size_cache: dict[bytes, int] = {}
        self.max_entries = limits.get("max_entries")
        self.count = 0
        self.paths = limits.PathCap()
        self.quick = self.paths.quick
        # A global PAX header applies its xattrs to every member: one budget per layer.
        self.xbudget = limits.XattrBudget(name)

    def check(self, hdr: bytes, hoff: int) -> None:
        """Check a header whose checksum field the fast test in iter_tar did not accept
        (first seen, or not the unsigned sum), and remember the field when it is right."""
        ck = hdr[148:156]
        want = adler_for(ck, self.name, hoff)
        if len(self.chk_cache) < 65536:
            self.chk_cache[ck] = want
        if adler32(hdr) & 0xFFFF != want:
            check_header(hdr, self.name, hoff)  # raises unless an old signed-sum header

    def size(self, hdr: bytes, hoff: int) -> int:
        """The size field of a header, parsed and remembered."""
        szf = hdr[124:136]
        size = parse_size(szf, self.name, hoff)
        if len(self.size_cache) < 8192:
            self.size_cache[szf] = size
        return size

    def extension(self, flag: int, payload: bytes, hoff: int) -> None:
        """Keep an extension member's records for the member(s) they apply to."""
        if flag == 120 or flag == 88:  # 'x', or Solaris 'X' (same records)
            self.ext = parse_pax(payload, self.name, hoff, self.ext)
        elif flag == 103:  # 'g'
            self.glob = parse_pax(payload, self.name, hoff, self.glob)
        elif flag == 76:  # 'L'
            self.long_name = payload.split(b"\0", 1)[0]
        elif flag == 75:  # 'K'
            self.long_link = payload.split(b"\0", 1)[0]

    def entry(self, hdr: bytes, hoff: int, size: int, loc: int) -> tuple[Entry, int]:
        """The Entry of an ordinary header whose data starts at stream offset `loc`, and
        how many data bytes follow the header."""
        ext = self.ext
        if ext is None and self.long_name is None:
            nul = hdr.find(0, 0, 100)
            raw_name = hdr[: nul if nul >= 0 else 100]
            if hdr[345] and hdr[257:263] == b"ustar\0":
                raw_name = hdr[345:500].split(b"\0", 1)[0] + b"/" + raw_name
            # Tested on the decoded name: `b"//" in raw` would first try b"//" as an int
            # and format (then drop) a TypeError, dearer than the search itself.
            text = raw_name.decode("utf-8", "surrogateescape")
            if (
                text[-1:] == "/"  # a directory: cheap enough to use the general path
                or text[:1] in (".", "/", "")
                or "//" in text
                or "/." in text
            ):
                path = path_of(raw_name)
                if ".." in text:
                    self._note(text, path)
            else:
                path = "/" + text
        else:
            path = self._ext_path(hdr)
        self.count += 1
        if len(path) > self.quick or self.count > self.max_entries:
            self._caps(path, hoff)
        # mode/uid/gid and mtime repeat across a layer: parse each distinct field once.
        mug = hdr[100:124]
        ids = self.id_cache.get(mug)
        mode, uid, gid = ids if ids is not None else self._ids(mug, hoff)
        mt = hdr[136:148]
        mtime = self.mtime_cache.get(mt)
        if mtime is None:
            mtime = self._mtime(mt, hoff)
        flag = hdr[156]
        target = hardlink = rdev = None
        if 49 <= flag <= 52:
            target, hardlink, rdev = self._link(hdr, flag, hoff)
        xattrs = None
        if self.glob is not None or ext is not None:
            uid, gid, mtime, size, xattrs = pax_overrides(self.glob, ext, uid, gid, mtime, size)
            self.xbudget.spend(xattrs)
        data_size = 0 if flag in _NO_DATA else size
        if flag == 83 or (ext is not None and ext.sparse_size is not None):
            size = sparse_size(hdr, ext, self.name, hoff)
            loc = -1
        kind = _KINDS.get(flag, _FILE)  # POSIX: unknown types read as regular files
        if kind is _SYMLINK:
            size = len(target.encode("utf-8", "surrogateescape")) if target else 0
        elif kind is not _FILE:
            size = 0
        self.ext = None
        self.long_name = self.long_link = None
        entry = Entry(
            path, kind, mode, uid, gid, size, mtime, target, rdev, xattrs, 0, hardlink, loc
        )
        return entry, data_size

    def _caps(self, path: str, hoff: int) -> None:
        self.paths.check(path, where(self.name, hoff))
        if self.count > self.max_entries:
            raise limits.exceeded(
                f"{where(self.name, hoff)}: more than {self.max_entries} tar members",
                "max_entries",
            )

    def _ids(self, field: bytes, hoff: int) -> tuple[int, int, int]:
        ids = parse_ids(field, self.name, hoff)
        if len(self.id_cache) < _CACHE_CAP:
            self.id_cache[field] = ids
        return ids

    def _mtime(self, field: bytes, hoff: int) -> int:
        # The usual field is 11 octal digits and a NUL or space: int() reads it directly
        # (a hostile layer can make every mtime distinct, so the cache alone is not enough).
        try:
            mtime = int(field[:11], 8) if field[11] in (0, 32) else None
        except ValueError:
            mtime = None
        if mtime is None:
            mtime = parse_mtime(field, self.name, hoff)
        if len(self.mtime_cache) < _CACHE_CAP:
            self.mtime_cache[field] = mtime
        return mtime

    def _ext_path(self, hdr: bytes) -> str:
        """The name of a member with PAX records or a GNU long name."""
        ext, long_name = self.ext, self.long_name
        if ext is not None and ext.path is not None:
            raw = ext.path
        elif long_name is not None:
            raw = decode_name(long_name)
        else:
            raw = decode_name(hdr[0:100].split(b"\0", 1)[0])
        path = ext_path(hdr, ext, long_name)
        if ".." in raw:
            self._note(raw, path)
        return path

    def _note(self, raw: str, path: str, what: str = "") -> None:
        """Report `raw` (cleaned to `path`) when it had a '..' to resolve."""
        if self.notes is not None and has_dotdot(raw):
            self.notes.add(raw, path, what)

    def _link(self, hdr: bytes, flag: int, hoff: int) -> LinkFields:
        """(symlink target, hard-link target, device numbers) of a link or device member."""
        if flag == 51 or flag == 52:
            return None, None, (
                parse_num(hdr[329:337], self.name, hoff, "devmajor"),
                parse_num(hdr[337:345], self.name, hoff, "devminor"),
            )  # fmt: skip
        raw = self.long_link if self.long_link is not None else hdr[157:257].split(b"\0", 1)[0]
        link = decode_name(raw)
        if self.ext is not None and self.ext.linkpath is not None:
            link = self.ext.linkpath
        if flag == 50:
            return link, None, None
        target = normalize_path(link)
        if ".." in link:
            self._note(link, target, "hard link to ")
        return None, target, None
