"""A multi-pattern prefilter for the secret rules: one Aho-Corasick pass (ahocorasick-rs:
Rust, SIMD-prefiltered, ~700 MB/s on a file's bytes here, where pyahocorasick ran at
~25 MB/s) finds where each rule's anchors occur, so the exact regexes run only on those
lines. Almost every file of an image has none.

Each rule's anchors are literal substrings that every match of the rule contains;
tests/model/bloat/test_secrets.py checks each rule's examples through here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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
# ... and in the letter cases people write keys in (password, Password, PASSWORD): the
# rules for settings files and netrc files only.
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
    """One automaton over anchors -> the rules each anchor serves, for bytes and str."""

    def __init__(self, table: dict[str, tuple[str, ...]], cases: bool = False) -> None:
        rules_of: dict[str, set[str]] = {}
        for kind, anchors in table.items():
            for anchor in anchors:
                spellings = {anchor, anchor.capitalize(), anchor.upper()} if cases else {anchor}
                for spelling in spellings:
                    rules_of.setdefault(spelling, set()).add(kind)
        self.words = sorted(rules_of)
        self.kinds = [frozenset(rules_of[w]) for w in self.words]
        first = ahocorasick_rs.MATCHKIND_LEFTMOST_FIRST
        self.raw = ahocorasick_rs.BytesAhoCorasick(
            [w.encode("latin-1") for w in self.words], matchkind=first
        )
        self.text = ahocorasick_rs.AhoCorasick(self.words, matchkind=first)

    def hits(self, text: str, data: bytes | None) -> Iterator[tuple[int, frozenset[str]]]:
        """(index of the anchor's last character, its rules) for each anchor found."""
        if data is not None:
            found = self.raw.find_matches_as_indexes(data)
        else:  # lone surrogates (names that were not UTF-8) cannot cross into Rust: one
            # replacement character each keeps every index where it was
            found = self.text.find_matches_as_indexes(_SURROGATE.sub("\ufffd", text))
        kinds = self.kinds
        return ((end - 1, kinds[i]) for i, _, end in found)


_EXACT = _Anchors(EXACT)
_ANY_CASE = {kind: _Anchors({kind: ANY_CASE[kind]}, cases=True) for kind in ANY_CASE}
# How far a rule's match may reach from one of its anchors: the anchor's line, and for a
# private key the body that follows the BEGIN line.
REACH = {"private-key": 8192 + 256}
MAX_LINE = 4096  # a window never extends further than this on either side of an anchor
Spans = dict[str, list[tuple[int, int]]]


def windows(text: str, any_case: tuple[str, ...] = (), data: bytes | None = None) -> Spans:
    """Per rule, the spans of `text` (merged, in order) where it can match: the lines
    holding its anchors. `any_case` names the ANY_CASE rules wanted. `data`: the bytes
    `text` was decoded from as latin-1 (one character per byte), searched instead."""
    spans: Spans = {}
    _hits(text, _EXACT.hits(text, data), spans)
    _hits(text, ((m.start() + 2, _URL) for m in _URL_HINT.finditer(text)), spans)
    for kind in any_case:
        _hits(text, _ANY_CASE[kind].hits(text, data), spans)
    return spans


def _hits(text: str, hits: Iterator[tuple[int, frozenset[str]]], spans: Spans) -> None:
    n = len(text)
    line_of: dict[int, tuple[int, int]] = {}
    for last, kinds in hits:  # `last`: the index of the anchor's last letter
        nl = text.rfind("\n", max(0, last - MAX_LINE), last)
        start = nl + 1 if nl >= 0 else max(0, last - MAX_LINE)
        got = line_of.get(start)
        if got is None:
            stop = text.find("\n", last, last + MAX_LINE)
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
