"""A multi-pattern prefilter for the secret rules: one Aho-Corasick pass (pyahocorasick)
over a file's lowercased text finds which rules can match at all, so the exact regexes
run only where one of their anchors occurs. Almost every file of an image has none.

Each rule's anchors are literal substrings (lowercase) that every match of the rule
contains; tests/model/bloat/test_secrets.py checks each rule's examples through here.
"""

from __future__ import annotations

import ahocorasick

# fmt: off
ANCHORS: dict[str, tuple[str, ...]] = {
    "private-key": ("private key",),
    "aws-access-key-id": ("akia", "asia", "abia", "acca"),
    "aws-secret-access-key": ("access_key", "accesskey"),
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab-token": ("glpat-",),
    "slack-token": ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"),
    "google-api-key": ("aiza",),
    "npm-token": ("npm_", "_auth"),
    "pypi-token": ("pypi-agei",),
    "stripe-key": ("_live_",),
    "sendgrid-key": ("sg.",),
    "huggingface-token": ("hf_",),
    "openai-key": ("t3blbkfj",),
    "anthropic-key": ("sk-ant-",),
    "docker-auth": ('"auth"',),
    "url-credentials": ("://",),
    "password-hash": (
        "$1$", "$2$", "$2a$", "$2b$", "$2x$", "$2y$", "$5$", "$6$", "$y$", "$gy$", "$7$",
    ),
    "secret-assignment": (
        "password", "passwd", "secret", "token", "credential", "api_key", "api-key", "apikey",
        "access_key", "access-key", "accesskey", "private_key", "private-key", "privatekey",
        "auth_key", "auth-key", "authkey",
    ),
    "netrc-password": ("password",),
}
# fmt: on


def _automaton() -> ahocorasick.Automaton:
    rules_of: dict[str, set[str]] = {}
    for kind, anchors in ANCHORS.items():
        for anchor in anchors:
            rules_of.setdefault(anchor, set()).add(kind)
    auto = ahocorasick.Automaton()
    for anchor, kinds in rules_of.items():
        auto.add_word(anchor, frozenset(kinds))
    auto.make_automaton()
    return auto


_AUTO = _automaton()
_ALL = frozenset(ANCHORS)


def candidate_rules(text: str) -> frozenset[str]:
    """The rules (kinds) whose anchors occur in `text` (any letter case)."""
    found: set[str] = set()
    for _, kinds in _AUTO.iter(text.lower()):
        found |= kinds
        if len(found) == len(_ALL):
            break
    return frozenset(found)
