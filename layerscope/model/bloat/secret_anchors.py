"""A multi-pattern prefilter for the secret rules: one Aho-Corasick pass (ahocorasick-rs:
Rust, SIMD-prefiltered, ~700 MB/s on a file's bytes here, where pyahocorasick ran at
~25 MB/s) finds where each rule's anchors occur, so the exact regexes run only on those
lines. Almost every file of an image has none.

Each rule's anchors are literal substrings that every match of the rule contains;
tests/model/bloat/test_secrets.py checks each rule's examples through here.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator
from typing import Any

import ahocorasick_rs

# Anchors matched as written (the rules are case-sensitive) ...
# fmt: off
EXACT: dict[str, tuple[str, ...]] = {
    "private-key": ("PRIVATE KEY",),
    "aws-access-key-id": ("AKIA", "ASIA", "ABIA", "ACCA"),
    "aws-secret-access-key": (
        "secret_access_key", "SECRET_ACCESS_KEY", "SecretAccessKey", "secretAccessKey",
        "secretaccesskey", "SECRETACCESSKEY", "Secret_Access_Key",
    ),
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab-token": ("glpat-",),
    "slack-token": ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"),
    "google-api-key": ("AIza",),
    "npm-token": ("npm_", "_auth"),
    "pypi-token": ("pypi-AgEI",),
    "stripe-key": ("_live_",),
    "sendgrid-key": ("SG.",),
    "huggingface-token": ("hf_",),
    "openai-key": ("T3BlbkFJ",),
    "anthropic-key": ("sk-ant-",),
    "docker-auth": ('"auth"',),
    "password-hash": (
        "$1$", "$2$", "$2a$", "$2b$", "$2x$", "$2y$", "$5$", "$6$", "$y$", "$gy$", "$7$",
    ),
}
# ... and in the letter cases people write keys in (password, Password, PASSWORD; _CASES):
# the rules for settings files and netrc files only.
ANY_CASE: dict[str, tuple[str, ...]] = {
    "secret-assignment": (
        "password", "passwd", "secret", "token", "credential", "api_key", "api-key", "apikey",
        "access_key", "access-key", "accesskey", "private_key", "private-key", "privatekey",
        "auth_key", "auth-key", "authkey",
    ),
    "netrc-password": ("password",),
}
# fmt: on
# "://" is in every URL: its anchor is a regex (C speed, literal prefix) that finds only
# the URLs that carry `user:password@`.
_URL_HINT = re.compile(r"://[^/\s:@\"'<>]{1,256}:[^/\s@\"'<>]{1,256}@")
_URL = frozenset({"url-credentials"})
_SURROGATE = re.compile("[\ud800-\udfff]")
ANCHORS = {**EXACT, **ANY_CASE, "url-credentials": ("://",)}


class _Anchors:
    """One automaton over anchors -> the rules each anchor serves, for bytes and str.

    Matches do not overlap (leftmost-longest: the fast, prefiltered search), so an anchor
    that holds another (`secret_access_key` holds `secret`) serves that one's rules too,
    and two anchors that can overlap (`_auth` and `auth_key` in `my_auth_key`) are also
    searched as one (`_auth_key`) serving both."""

    def __init__(self, table: dict[str, tuple[str, ...]]) -> None:
        rules_of: dict[str, set[str]] = {}
        for kind, anchors in table.items():
            for anchor in anchors:
                rules_of.setdefault(anchor, set()).add(kind)
        singles = list(rules_of)
        for x in singles:
            for y in singles:
                if x == y or rules_of[y] <= rules_of[x]:
                    continue
                for k in range(1, min(len(x), len(y))):
                    if x[-k:] == y[:k]:
                        rules_of.setdefault(x + y[k:], set()).update(rules_of[x] | rules_of[y])
        self.words = sorted(rules_of)
        self.kinds = [
            frozenset(k for other in self.words if other in w for k in rules_of[other])
            for w in self.words
        ]
        first = ahocorasick_rs.MATCHKIND_LEFTMOST_LONGEST
        self.raw = ahocorasick_rs.BytesAhoCorasick(
            [w.encode("latin-1") for w in self.words], matchkind=first
        )
        self.text = ahocorasick_rs.AhoCorasick(self.words, matchkind=first)
        self.fast = _Hyperscan.of(self.words)

    def positions(self, data: bytes) -> list[int]:
        """An offset inside each anchor found in `data` (all of them with Hyperscan, the
        non-overlapping ones without): where anchors are, not which."""
        if self.fast is not None:
            return self.fast.ends(data)
        return [start for _, start, _ in self.raw.find_matches_as_indexes(data)]

    def hits(self, text: str, data: bytes | None) -> Iterator[tuple[int, frozenset[str]]]:
        """(index of the anchor's last character, its rules) for each anchor found."""
        if data is not None:
            found = self.raw.find_matches_as_indexes(data)
        else:  # lone surrogates (names that were not UTF-8) cannot cross into Rust: one
            # replacement character each keeps every index where it was
            found = self.text.find_matches_as_indexes(_SURROGATE.sub("\ufffd", text))
        kinds = self.kinds
        return ((end - 1, kinds[i]) for i, _, end in found)


class _Hyperscan:
    """The anchors as one Hyperscan database (the `hyperscan` wheel, x86-64 Linux): a
    literal search several times faster than the automaton on large buffers, used by
    any_hits where only where anchors are matters. None where it is not installed."""

    def __init__(self, db: Any, scratch: Any) -> None:
        self.db = db
        self.scratch = scratch
        self.lock = threading.Lock()  # one scratch space: one scan at a time

    @classmethod
    def of(cls, words: list[str]) -> _Hyperscan | None:
        try:
            import hyperscan
        except ImportError:
            return None
        db = hyperscan.Database()
        db.compile(
            expressions=[re.escape(w).encode("latin-1") for w in words],
            ids=list(range(len(words))),
            flags=[0] * len(words),
        )
        return cls(db, hyperscan.Scratch(db))

    def ends(self, data: bytes) -> list[int]:
        out: list[int] = []

        def on(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            out.append(end - 1)

        with self.lock:
            self.db.scan(data, match_event_handler=on, scratch=self.scratch)
        return out


# one automaton per set of any-case rules wanted: one search of a file, whatever it is
_CASES = {
    kind: tuple(sorted({s for a in anchors for s in (a, a.capitalize(), a.upper())}))
    for kind, anchors in ANY_CASE.items()
}
_MODES: tuple[tuple[str, ...], ...] = (
    (), ("secret-assignment",), ("netrc-password",), ("secret-assignment", "netrc-password"),
)  # fmt: skip
_BY_MODE = {wanted: _Anchors({**EXACT, **{k: _CASES[k] for k in wanted}}) for wanted in _MODES}
_URL_HINT_BYTES = re.compile(_URL_HINT.pattern.encode())
# How far a rule's match may reach from one of its anchors: the anchor's line, and for a
# private key the body that follows the BEGIN line.
REACH = {"private-key": 8192 + 256}
MAX_LINE = 4096  # a window never extends further than this on either side of an anchor
Spans = dict[str, list[tuple[int, int]]]


def windows(text: str, any_case: tuple[str, ...] = ()) -> Spans:
    """Per rule, the spans of `text` (merged, in order) where it can match: the lines
    holding its anchors. `any_case` names the ANY_CASE rules wanted."""
    spans: Spans = {}
    _hits(text, "\n", _BY_MODE[_mode(any_case)].hits(text, None), spans)
    _hits(text, "\n", ((m.start() + 2, _URL) for m in _URL_HINT.finditer(text)), spans)
    return spans


def byte_windows(data: bytes, any_case: tuple[str, ...] = ()) -> Spans:
    """windows() of a file's bytes: the same spans as of its latin-1 decoding, found
    without decoding it (most files have no anchor, and are never decoded)."""
    spans: Spans = {}
    _hits(data, b"\n", _BY_MODE[_mode(any_case)].hits("", data), spans)
    if b"://" in data:
        hits = ((m.start() + 2, _URL) for m in _URL_HINT_BYTES.finditer(data))
        _hits(data, b"\n", hits, spans)
    return spans


# Between files searched as one buffer: no anchor holds a NUL and no URL hint a newline,
# so no hit spans two files, and the search starts afresh in each (see any_hits).
SEPARATOR = b"\0\n"


def any_hits(datas: list[bytes], any_case: tuple[str, ...] = ()) -> list[bool]:
    """For each of `datas`, whether byte_windows() of it alone would find anything: one
    automaton search (and at most one URL-hint search) over them all joined, instead of a
    call per file: the per-call cost dominates on the many small files of an image."""
    if not datas:
        return []
    joined = SEPARATOR.join(datas)
    starts: list[int] = []
    at = 0
    for d in datas:
        starts.append(at)
        at += len(d) + len(SEPARATOR)
    hit = [False] * len(datas)
    found = _BY_MODE[_mode(any_case)].positions(joined)
    if b"://" in joined:
        found += [m.start() for m in _URL_HINT_BYTES.finditer(joined)]
    for start in found:
        hit[bisect.bisect_right(starts, start) - 1] = True
    return hit


def _mode(any_case: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k in ("secret-assignment", "netrc-password") if k in any_case)


def _hits(
    text: Any, newline: Any, hits: Iterator[tuple[int, frozenset[str]]], spans: Spans
) -> None:
    """Add to `spans` the window of each hit in `text` (a str or bytes, `newline` of the
    same type)."""
    n = len(text)
    line_of: dict[int, tuple[int, int]] = {}
    for last, kinds in hits:  # `last`: the index of the anchor's last letter
        nl = text.rfind(newline, max(0, last - MAX_LINE), last)
        start = nl + 1 if nl >= 0 else max(0, last - MAX_LINE)
        got = line_of.get(start)
        if got is None:
            stop = text.find(newline, last, last + MAX_LINE)
            got = line_of[start] = (start, stop if stop >= 0 else min(n, last + MAX_LINE))
        end = last + 1
        for kind in kinds:
            reach = REACH.get(kind)
            span = (got[0], min(n, end + reach)) if reach else got
            rows = spans.setdefault(kind, [])
            if rows and span[0] <= rows[-1][1]:
                rows[-1] = (rows[-1][0], max(rows[-1][1], span[1]))
            else:
                rows.append(span)


def candidate_rules(text: str) -> frozenset[str]:
    """The rules (kinds) whose anchors occur in `text`."""
    return frozenset(windows(text, tuple(ANY_CASE)))
