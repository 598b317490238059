"""Digests of many files' contents or stored forms, one worker thread per reader.

A diff of two stages needs the digests of thousands of files on both sides. Each side's
files are read by one thread, in the order its reader reads fastest (stored forms in
fragment order, contents in locator order, tar members in one pass), so the two images
are read and inflated at the same time: zlib, zstd, lzma and lz4 release the GIL while
they inflate. A reader is never used by two threads at once (a stack of one image's
layers is one reader: its work stays in one thread)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import xxhash

from layerscope.engine.image import Image
from layerscope.readers.base import StoredForm, StoredForms, StreamedContents

Cancel = Callable[[], bool]
# what a job found: (image, layer, loc, digest)
Found = list[tuple[Image, int, int, bytes]]


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
    h = xxhash.xxh3_128(form.layout)
    for chunk in form.blocks:
        h.update(chunk)
    return h.digest() + xxhash.xxh3_128_digest(form.tail)


def run(jobs: Iterable[Job], cancel: Cancel | None = None) -> Found:
    """Digest every job's files, one thread per reader; returns what was found (partial
    when `cancel` returned True)."""
    by_reader: dict[int, list[Job]] = {}
    for job in jobs:
        if job.nodes:
            by_reader.setdefault(id(job.img.reader), []).append(job)
    groups = list(by_reader.values())
    if len(groups) <= 1:
        return [found for group in groups for found in _run_group(group, cancel)]
    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="digest") as pool:
        results = list(pool.map(lambda group: _run_group(group, cancel), groups))
    return [found for result in results for found in result]


def _run_group(jobs: list[Job], cancel: Cancel | None) -> Found:
    out: Found = []
    for job in jobs:
        if job.stored:
            _stored(job, out, cancel)
        else:
            _contents(job, out, cancel)
    return out


def _stored(job: Job, out: Found, cancel: Cancel | None) -> None:
    reader = job.img.reader
    assert isinstance(reader, StoredForms)
    for loc, form in reader.stored_forms(job.layer, list(job.nodes)):
        if cancel is not None and cancel():
            return
        out.append((job.img, job.layer, loc, form_digest(form)))


def _contents(job: Job, out: Found, cancel: Cancel | None) -> None:
    img, reader = job.img, job.img.reader
    if isinstance(reader, StreamedContents):
        # one pass over the layer: reading members one at a time would inflate the
        # layer up to each of them again
        size = img.tree.size
        wanted = sorted((loc, size[node]) for loc, node in job.nodes.items())
        for loc, chunks in reader.read_contents(job.layer, wanted):
            h = xxhash.xxh3_128()
            for chunk in chunks:
                h.update(chunk)
            out.append((img, job.layer, loc, h.digest()))
            if cancel is not None and cancel():
                return
        return
    for loc in sorted(job.nodes):  # locator order: neighbouring reads, shared blocks cached
        if cancel is not None and cancel():
            return
        h = xxhash.xxh3_128()
        for chunk in img.iter_content(job.nodes[loc]):
            h.update(chunk)
        out.append((img, job.layer, loc, h.digest()))
