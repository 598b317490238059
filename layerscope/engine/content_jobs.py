"""Digests of many files' contents or stored forms, one worker thread per reader.

A diff of two stages needs the digests of thousands of files on both sides. Each side's
files are read by one thread, in the order its reader reads fastest (stored forms in
fragment order, contents in locator order, tar members in one pass), so the two images
are read and inflated at the same time: zlib, zstd, lzma and lz4 release the GIL while
they inflate. A reader is never used by two threads at once (a stack of one image's
layers is one reader: its work stays in one thread)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import xxhash

from layerscope.engine.image import Image
from layerscope.readers.base import StoredForm, StoredForms, StreamedContents

Cancel = Callable[[], bool]
SMALL = 64 << 10  # files up to this size are read in the calling thread (see run)
# what the jobs found, per job: (image, layer, {loc: stored-form digest}, {loc: content
# digest}); a file with no blocks is all tail: its stored form is its content
Found = list[tuple[Image, int, dict[int, bytes], dict[int, bytes]]]


@dataclass(slots=True)
class Job:
    """The files of one image layer to digest: {loc: node}. `stored`: digest their stored
    forms (readers.base.StoredForms) rather than their contents."""

    img: Image
    layer: int
    stored: bool
    nodes: dict[int, int] = field(default_factory=dict)


def form_digest(form: StoredForm) -> bytes:
    """32 bytes: a digest of the stored blocks (layout and raw bytes) + one of the tail.
    Kept apart so that equal blocks with unequal tails prove a difference."""
    if not form.blocks:
        return _NO_BLOCKS + xxhash.xxh3_128_digest(form.tail)
    h = xxhash.xxh3_128(form.layout)
    for chunk in form.blocks:
        h.update(chunk)
    return h.digest() + xxhash.xxh3_128_digest(form.tail)


_NO_BLOCKS = xxhash.xxh3_128_digest(b"")


def run(jobs: Iterable[Job], cancel: Cancel | None = None) -> Found:
    """Digest every job's files; returns what was found (partial when `cancel` returned
    True). Small files are Python's work (a lookup, a slice, a hash each) and are done
    in this thread; big ones are the codecs' work and are shared out, one thread per
    reader. Mixing the two in threads would make each inflating thread wait for the GIL
    behind the other's Python loop after every block."""
    small: list[Job] = []
    by_reader: dict[int, list[Job]] = {}
    for job in jobs:
        if not job.nodes:
            continue
        if isinstance(job.img.reader, StreamedContents):  # one pass a layer: never split
            by_reader.setdefault(id(job.img.reader), []).append(job)
            continue
        size = job.img.tree.size
        little = {loc: node for loc, node in job.nodes.items() if size[node] <= SMALL}
        if little:
            small.append(Job(job.img, job.layer, job.stored, little))
        if len(little) < len(job.nodes):
            big = {loc: node for loc, node in job.nodes.items() if loc not in little}
            by_reader.setdefault(id(job.img.reader), []).append(
                Job(job.img, job.layer, job.stored, big)
            )
    found = _run_group(small, cancel)
    groups = list(by_reader.values())
    if len(groups) <= 1:
        return found + [got for group in groups for got in _run_group(group, cancel)]
    stop = threading.Event()

    def stopped() -> bool:
        return stop.is_set() or (cancel is not None and cancel())

    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="digest") as pool:
        try:
            results = list(pool.map(lambda group: _run_group(group, stopped), groups))
        except BaseException:
            # one group failed (a corrupt block) or Ctrl+C: the other thread stops at its
            # next look instead of digesting the rest of its group before `with` returns
            stop.set()
            raise
    return found + [got for result in results for got in result]


def _run_group(jobs: list[Job], cancel: Cancel | None) -> Found:
    out: Found = []
    for job in jobs:
        forms: dict[int, bytes] = {}
        got: dict[int, bytes] = {}
        out.append((job.img, job.layer, forms, got))
        reader = job.img.reader
        if isinstance(reader, StoredForms) and reader.stored_codec(job.layer) is not None:
            _forms(reader, job, forms, got, cancel)
        elif isinstance(reader, StreamedContents):
            _streamed(reader, job, got, cancel)
        else:
            _contents(job, got, cancel)
    return out


def _forms(
    reader: StoredForms,
    job: Job,
    forms: dict[int, bytes],
    got: dict[int, bytes],
    cancel: Cancel | None,
) -> None:
    """Stored-form digests (job.stored), or content digests from inflated forms: blocks +
    tail is the content. A file with no blocks is its tail: its content digest, in one
    call, either way."""
    digest, stored = xxhash.xxh3_128_digest, job.stored
    for n, (loc, form) in enumerate(reader.stored_forms(job.layer, job.nodes, not stored)):
        if not form.blocks:
            got[loc] = digest(form.tail)
        elif stored:
            forms[loc] = form_digest(form)
        else:
            h = xxhash.xxh3_128()
            for chunk in form.blocks:
                h.update(chunk)
            h.update(form.tail)
            got[loc] = h.digest()
        if cancel is not None and not n & 255 and cancel():
            return


def _streamed(
    reader: StreamedContents, job: Job, got: dict[int, bytes], cancel: Cancel | None
) -> None:
    """One pass over a streamed layer: reading members one at a time would inflate the
    layer up to each of them again."""
    size = job.img.tree.size
    wanted = sorted((loc, size[node]) for loc, node in job.nodes.items())
    for loc, chunks in reader.read_contents(job.layer, wanted):
        h = xxhash.xxh3_128()
        for chunk in chunks:
            h.update(chunk)
        got[loc] = h.digest()
        if cancel is not None and cancel():
            return


def _contents(job: Job, got: dict[int, bytes], cancel: Cancel | None) -> None:
    img = job.img
    for loc in sorted(job.nodes):  # locator order: neighbouring reads, shared blocks cached
        if cancel is not None and cancel():
            return
        h = xxhash.xxh3_128()
        for chunk in img.iter_content(job.nodes[loc]):
            h.update(chunk)
        got[loc] = h.digest()
