"""rpm: the sqlite database (`/var/lib/rpm/rpmdb.sqlite`, RHEL/Rocky 9, Fedora; or
`/usr/lib/sysimage/rpm/rpmdb.sqlite`, Fedora 36+ and openSUSE), read with Python's sqlite3.

Each row of its `Packages` table is one package's header blob: big-endian `il` (index
entries) and `dl` (data bytes), `il` entries of (tag, type, offset, count), then the data.
No maintained library with wheels reads these blobs: rpmfile reads whole package files
(lead, signature, then a header with its magic, which the database's blobs lack) through a
private reader that asserts on bad input; the python3-rpm bindings need librpm. So this
module parses only the tags it needs, every offset bounds-checked. The Berkeley DB
(`Packages`, RHEL 8) and ndb (`Packages.db`) backends are not read.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import tempfile
from collections.abc import Iterator

from layerscope.model.packages.records import SYSTEM, Db, FileRecord, Package, hex_digest

DATABASES = ("/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite")

NAME, VERSION, RELEASE, EPOCH, ARCH = 1000, 1001, 1002, 1003, 1022
FILEMODES, FILEDIGESTS, FILEFLAGS = 1030, 1035, 1037
DIRINDEXES, BASENAMES, DIRNAMES = 1116, 1117, 1118
FILEDIGESTALGO = 5011
WANTED = frozenset(
    {NAME, VERSION, RELEASE, EPOCH, ARCH, FILEMODES, FILEDIGESTS, FILEFLAGS,
     DIRINDEXES, BASENAMES, DIRNAMES, FILEDIGESTALGO}
)  # fmt: skip
INT16, INT32, STRING, STRING_ARRAY = 3, 4, 6, 8
# rpm's PGPHASHALGO numbers -> hashlib names (md5 when a header names none)
HASH_ALGOS = {1: "md5", 2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}
RPMFILE_CONFIG = 1
S_IFMT, S_IFREG = 0o170000, 0o100000
MAX_INDEX = 1 << 20  # rpm's own cap on header index entries (HEADER_TAGS_MAX)

Value = int | str | list[int] | list[str]


class HeaderError(ValueError):
    pass


def parse_header(blob: bytes) -> dict[int, Value]:
    """The WANTED tags of one header blob; HeaderError if it is malformed."""
    if len(blob) < 8:
        raise HeaderError("header blob too short")
    il, dl = struct.unpack_from(">ii", blob)
    start = 8 + 16 * il
    if not 0 < il <= MAX_INDEX or dl < 0 or start + dl > len(blob):
        raise HeaderError("header index out of bounds")
    store = blob[start : start + dl]
    out: dict[int, Value] = {}
    for i in range(il):
        tag, kind, offset, count = struct.unpack_from(">iiii", blob, 8 + 16 * i)
        if tag in WANTED:
            if not 0 <= offset <= dl or not 0 < count <= dl:
                raise HeaderError(f"tag {tag}: data out of bounds")
            out[tag] = _value(store, kind, offset, count)
    return out


def _value(store: bytes, kind: int, offset: int, count: int) -> Value:
    if kind in (INT16, INT32):
        width = 2 if kind == INT16 else 4
        end = offset + width * count
        if end > len(store):
            raise HeaderError("integer array out of bounds")
        values = list(struct.unpack_from(f">{count}{'H' if width == 2 else 'I'}", store, offset))
        return values
    if kind in (STRING, STRING_ARRAY):
        strings: list[str] = []
        pos = offset
        for _ in range(count if kind == STRING_ARRAY else 1):
            end = store.find(b"\0", pos)
            if end < 0:
                raise HeaderError("unterminated string")
            strings.append(store[pos:end].decode("utf-8", "surrogateescape"))
            pos = end + 1
        return strings[0] if kind == STRING else strings
    return []  # a type no wanted tag uses: ignored


def _str(h: dict[int, Value], tag: int) -> str:
    v = h.get(tag)
    return v if isinstance(v, str) else ""


def _list(h: dict[int, Value], tag: int) -> list[int] | list[str]:
    v = h.get(tag)
    return v if isinstance(v, list) else []


def header_db(headers: Iterator[dict[int, Value]]) -> Db:
    db = Db()
    for h in headers:
        epoch = _list(h, EPOCH)
        evr = f"{_str(h, VERSION)}-{_str(h, RELEASE)}"
        if epoch and epoch[0]:
            evr = f"{epoch[0]}:{evr}"
        pkg = Package("rpm", SYSTEM, _str(h, NAME), evr)
        if not pkg.name or pkg.name == "gpg-pubkey":
            continue  # imported signing keys are headers too, with no files
        db.packages.append(pkg)
        algo_no = _list(h, FILEDIGESTALGO)
        algo = HASH_ALGOS.get(int(algo_no[0]) if algo_no else 1)
        names, dirs, index = _list(h, BASENAMES), _list(h, DIRNAMES), _list(h, DIRINDEXES)
        digests, modes, flags = _list(h, FILEDIGESTS), _list(h, FILEMODES), _list(h, FILEFLAGS)
        for i, base in enumerate(names):
            d = index[i] if i < len(index) else -1
            if not isinstance(d, int) or not 0 <= d < len(dirs):
                continue
            path = f"{dirs[d]}{base}"
            digest = str(digests[i]) if i < len(digests) else ""
            mode = int(modes[i]) if i < len(modes) else 0
            got = hex_digest(digest, algo) if digest and algo else None
            if mode & S_IFMT != S_IFREG:
                got = None
            config = i < len(flags) and bool(int(flags[i]) & RPMFILE_CONFIG)
            rec = FileRecord(pkg, *got, config) if got else FileRecord(pkg, None, None, config)
            db.add(path, rec)
    return db


def parse_sqlite(data: bytes) -> Db:
    """A Db from the bytes of an rpmdb.sqlite; its problems say what could not be read."""
    if data[18:20] == b"\x02\x02":  # WAL mode: read the main file as a rollback-journal db
        data = data[:18] + b"\x01\x01" + data[20:]
    db = Db()
    try:
        with _connect(data) as conn:
            rows = conn.execute("SELECT blob FROM Packages").fetchall()
    except sqlite3.Error as e:
        db.problems.append(f"rpm database not read: {e}")
        return db

    def headers() -> Iterator[dict[int, Value]]:
        for (blob,) in rows:
            try:
                yield parse_header(bytes(blob))
            except HeaderError as e:
                db.problems.append(f"rpm header not read: {e}")

    found = header_db(headers())
    found.problems[:0] = db.problems
    return found


@contextlib.contextmanager
def _connect(data: bytes) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    try:
        if hasattr(conn, "deserialize"):  # Python >= 3.11: no file at all
            conn.deserialize(data)
            yield conn
            return
        with tempfile.TemporaryDirectory(prefix="layerscope-rpmdb-") as tmp:
            path = os.path.join(tmp, "rpmdb.sqlite")
            with open(path, "wb") as f:
                f.write(data)
            conn.close()
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            yield conn
    finally:
        conn.close()
