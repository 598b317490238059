"""What a secret looks like: file paths that hold credentials, content patterns, and how to
show a value without printing it (first and last characters only)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from layerscope.model.bloat.secret_anchors import Spans, byte_windows, windows

# Paths that are secrets by themselves (reported even if the content says nothing).
PATH_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("ssh-private-key", re.compile(r"/id_(rsa|dsa|ecdsa|ed25519|ecdsa_sk|ed25519_sk)$")),
    ("ssh-host-key", re.compile(r"^/etc/ssh/ssh_host_[a-z0-9]+_key$")),
    (
        "dotenv",
        re.compile(r"/\.env(\.(?!(example|sample|template|dist|defaults?|schema)$)[^/]+)?$"),
    ),
    ("netrc", re.compile(r"/[._]netrc$")),
    ("aws-credentials", re.compile(r"/\.aws/credentials$")),
    ("git-credentials", re.compile(r"/\.git-credentials$")),
    ("pgpass", re.compile(r"/\.pgpass$")),
    ("kubeconfig", re.compile(r"/\.kube/config$")),
    (
        "gcp-credentials",
        re.compile(
            r"(/application_default_credentials\.json"
            r"|/\.config/gcloud/(credentials\.db|access_tokens\.db|legacy_credentials/.+))$"
        ),
    ),
    ("azure-credentials", re.compile(r"/\.azure/(accessTokens\.json|msal_token_cache\.\w+)$")),
    ("vault-token", re.compile(r"/\.vault-token$")),
    ("htpasswd", re.compile(r"/\.htpasswd$")),
    ("keystore", re.compile(r"\.(p12|pfx)$")),
]

# Paths worth reading even when not every such file is a secret. Plain string tests: this
# runs on every file of an image.
_CANDIDATE_NAMES = frozenset(
    {".npmrc", ".yarnrc", ".yarnrc.yml", ".pypirc", ".gitconfig", ".s3cfg", ".boto"}
)
_CANDIDATE_ENDINGS = (
    ".pem",
    ".key",
    ".tfvars",
    "/.docker/config.json",
    "/.aws/config",
    "/.git/config",
    "/etc/shadow",
    "/.config/gh/hosts.yml",
    "/.m2/settings.xml",
    "/.gradle/gradle.properties",
)
_CANDIDATE_WORDS = ("credential", "secret", "token", "passw")
_SINGULARITY = "/.singularity.d/"


# Files whose `key = value` lines are settings: a key named like a secret is one.
_CONFIG_LIKE = re.compile(
    r"(/\.env[^/]*|\.(ini|cfg|conf|config|ya?ml|toml|properties|json|xml|tfvars|sh)"
    r"|/[._]netrc|/\.npmrc|/\.pypirc|/\.s3cfg|/\.boto|/\.singularity\.d/.*)$",
    re.IGNORECASE,
)

_WORDS = (
    r"(?:password|passwd|secret|token|credentials?"
    r"|api[_\-]?key|access[_\-]?key|private[_\-]?key|auth[_\-]?key)"
)

# (kind, pattern): group "v" is the secret value; group "k" (optional) names it. Each rule
# matches a format (key material, a vendor's token prefix and length), not a word: a
# `password:` in a configuration file is only a finding through GENERIC below, and only
# when its value looks like a secret.
CONTENT_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "private-key",
        # a body of key material (base64 lines, PEM headers; JSON's escaped \n) up to the
        # END line: a BEGIN line quoted in code or a "..." in documentation is no key
        re.compile(
            r"-----BEGIN (?P<k>(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"
            r"(?P<v>[^\"'`{}()<>;]{32,8192}?)-----END (?:[A-Z0-9]+ )*PRIVATE KEY"
        ),
    ),
    (
        "aws-access-key-id",
        re.compile(r"\b(?P<v>(?:AKIA|ASIA|ABIA|ACCA)(?![0-9A-Z]{9}EXAMPLE)[0-9A-Z]{16})\b"),
    ),
    (
        "aws-secret-access-key",
        re.compile(
            r"(?i)\b(?P<k>aws_?secret_?access_?key)\b[\"']?\s*[=:]\s*[\"']?"
            r"(?P<v>(?![A-Za-z0-9/+=]*EXAMPLEKEY)[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
    ),
    (
        "github-token",
        re.compile(
            r"\b(?P<v>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"
        ),
    ),
    ("gitlab-token", re.compile(r"\b(?P<v>glpat-[A-Za-z0-9_\-]{20,})")),
    ("slack-token", re.compile(r"\b(?P<v>xox[abposr]-[0-9]{6,}-[A-Za-z0-9\-]{10,})")),
    ("google-api-key", re.compile(r"\b(?P<v>AIza[0-9A-Za-z_\-]{35})(?![0-9A-Za-z_\-])")),
    ("npm-token", re.compile(r"\b(?P<v>npm_[A-Za-z0-9]{36})\b")),
    ("pypi-token", re.compile(r"\b(?P<v>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})")),
    ("stripe-key", re.compile(r"\b(?P<v>(?:sk|rk)_live_[0-9A-Za-z]{24,99})\b")),
    ("sendgrid-key", re.compile(r"\b(?P<v>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})\b")),
    ("huggingface-token", re.compile(r"\b(?P<v>hf_[A-Za-z]{34})\b")),
    (
        "openai-key",
        re.compile(r"\b(?P<v>sk-(?:proj-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,})"),
    ),
    ("anthropic-key", re.compile(r"\b(?P<v>sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_\-]{80,})")),
    ("docker-auth", re.compile(r"\"(?P<k>auth)\"\s*:\s*\"(?P<v>[A-Za-z0-9+/=]{8,})\"")),
    (
        "url-credentials",
        re.compile(
            r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://(?P<k>[^/\s:@\"'<>]{1,256}):"
            r"(?P<v>[^/\s@\"'<>]{1,256})@[\w.\-]+"
        ),
    ),
    (
        "password-hash",
        re.compile(
            r"(?m)^(?P<k>[a-z_][a-z0-9_\-.]*\$?):(?P<v>\$(?:1|2[abxy]?|5|6|y|gy|7)\$[^:\s]{8,}):"
        ),
    ),
]

# .npmrc's `_auth = ...` and `_authToken = ...`: settings files only (code says `_auth =`)
NPMRC_AUTH = re.compile(r"(?P<k>_auth(?:Token)?)\s*=\s*[\"']?(?P<v>[^\s\"'$][^\s\"']{6,})")
GENERIC = re.compile(
    r"(?i)(?<![A-Za-z0-9_.\-])(?P<k>[A-Za-z0-9_.\-]*?" + _WORDS + r")[\"']?[ \t]*[=:][ \t]*"
    r"[\"']?(?P<v>[^\s\"'#;&|,}]{4,})"
)
NETRC = re.compile(r"\b(?P<k>password)\s+(?P<v>\S+)")

# Rules whose value is free text: kept only when the value looks like a secret
_FREE_VALUE = frozenset({"secret-assignment", "url-credentials", "npm-token", "netrc-password"})
_PLACEHOLDER = re.compile(r"^(\$|\{\{|<|%\(|\*|/|\.\.?/|null$|none$|true$|false$|x+$)", re.I)
# values documentation and templates use for "put yours here"
_PLACEHOLDER_WORDS = frozenset(
    {"password", "passwd", "pass", "pwd", "secret", "token", "changeme", "change_me",
     "example", "sample", "default", "dummy", "placeholder", "redacted", "hidden",
     "username", "user", "yourpassword", "your_password", "mypassword", "my_password",
     "secretpassword", "foobar", "foo", "bar", "test", "testing", "required", "optional",
     "files", "empty", "unset", "undefined", "string", "value", "xxxxxxxx", "12345678"}
)  # fmt: skip
_COMMENT = ("#", ";", "//", "--", "*", "<!--", "rem ", "%")
_DOC_VALUE = re.compile(r"[.,]$|^[A-Za-z]+\(|\.\.\.|^\[|\]$")


def looks_secret(value: str, key: str | None = None) -> bool:
    """A free-text value (`password = VALUE`) that is a secret, not a word, a reference, a
    path or a placeholder: at least 6 characters mixing two kinds (letters, digits,
    symbols, or upper and lower case), not one of the words templates use."""
    v = value.strip()
    low = v.lower()
    if len(v) < 6 or _PLACEHOLDER.match(v) or _DOC_VALUE.search(v):
        return False
    if low in _PLACEHOLDER_WORDS or "example" in low or (key is not None and low == key.lower()):
        return False
    if "${" in v or "%(" in v or "{{" in v or "(" in v or len(set(v)) <= 2:
        return False  # a reference, a template, a call in code, a row of one letter
    kinds = (
        any(c.islower() for c in v),
        any(c.isupper() for c in v),
        any(c.isdigit() for c in v),
        any(not c.isalnum() for c in v),
    )
    return sum(kinds) >= 2


def _commented(text: str, start: int) -> bool:
    """Whether the match at `start` sits on a comment line (# ; // -- * <!-- rem %)."""
    line_start = text.rfind("\n", 0, start) + 1
    head = text[line_start:start].lstrip().lower()
    return head.startswith(_COMMENT)


@dataclass(slots=True, frozen=True)
class Match:
    kind: str
    line: int  # 1-based
    detail: str  # the key (if any) and the redacted value
    digest: str = ""  # fingerprint(kind, value): tells two values apart, never shows one


def fingerprint(kind: str, value: str) -> str:
    """A digest of a matched value for baselines: sha256 over the rule and the value,
    32 hex digits. It identifies a value already known; it does not reveal one (a weak
    password can still be guessed against it, as against any stored hash)."""
    data = f"layerscope-secret\0{kind}\0{value.strip()}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()[:32]


def redact(value: str) -> str:
    """Never the whole value: its first and last characters and its length."""
    v = value.strip()
    n = len(v)
    if n <= 4:
        shown = "*" * n
    elif n < 12:
        shown = f"{v[0]}…{v[-1]}"
    else:
        shown = f"{v[:2]}…{v[-2:]}"
    return f"{shown} ({n} chars)"


# Every PATH_RULES match has one of these names (or sits in gcloud's legacy_credentials):
# a set lookup spares the regexes for almost every file of an image.
_RULE_NAMES = frozenset(
    {
        ".netrc",
        "_netrc",
        "credentials",
        ".git-credentials",
        ".pgpass",
        "config",
        "application_default_credentials.json",
        "credentials.db",
        "access_tokens.db",
        "accessTokens.json",
        ".vault-token",
        ".htpasswd",
    }
)
_RULE_PREFIXES = ("id_", "ssh_host_", ".env", "msal_token_cache.")
_RULE_SUFFIXES = (".p12", ".pfx")


def path_kind(path: str) -> str | None:
    """The kind of secret a path is by itself (an SSH key, a .env file...), or None."""
    name = path.rpartition("/")[2]
    if not (
        name in _RULE_NAMES
        or name.startswith(_RULE_PREFIXES)
        or name.endswith(_RULE_SUFFIXES)
        or "/legacy_credentials/" in path
    ):
        return None
    for kind, rule in PATH_RULES:
        if rule.search(path):
            return kind
    return None


def looks_sensitive(path: str) -> bool:
    """Names worth reading even if the path alone proves nothing (.npmrc, *.pem...)."""
    name = path.rpartition("/")[2]
    low = name.lower()
    return (
        name in _CANDIDATE_NAMES
        or path.lower().endswith(_CANDIDATE_ENDINGS)
        or any(w in low for w in _CANDIDATE_WORDS)
        or path.startswith(_SINGULARITY)
    )


def is_candidate(path: str) -> bool:
    """Worth reading for a content scan even in the cheap (non-deep) mode."""
    return looks_sensitive(path) or path_kind(path) is not None


def is_config_like(path: str) -> bool:
    return _CONFIG_LIKE.search(path) is not None


def scan_text(
    text: str,
    settings: bool,
    netrc: bool = False,
    limit: int = 50,
    data: bytes | None = None,
    spans: Spans | None = None,
) -> list[Match]:
    """Secrets in `text`. `settings` adds `NAME_TOKEN=value`-style assignments (for env
    files, definitions, configs); `netrc` adds netrc's `password VALUE`. `data`: the
    bytes `text` was decoded from as latin-1 (one character per byte, as scan_bytes
    does): values are shown decoded as UTF-8; `spans` the prefilter's windows if known."""
    out: list[Match] = []
    taken: list[tuple[int, int]] = []
    if spans is None:
        spans = windows(text, any_case_rules(settings, netrc))  # where each rule can match
    if not spans:
        return out
    rules = list(CONTENT_RULES)
    if settings:
        rules += [("npm-token", NPMRC_AUTH), ("secret-assignment", GENERIC)]
    if netrc:
        rules.append(("netrc-password", NETRC))
    for kind, rule in rules:
        where = spans.get(kind, [])
        for m in (m for start, stop in where for m in rule.finditer(text, start, stop)):
            value = m.group("v")
            start, end = m.span("v")
            key = m.groupdict().get("k")
            if data is not None:
                value, key = _utf8(value), None if key is None else _utf8(key)
            if kind in _FREE_VALUE and (
                not looks_secret(value, key) or _commented(text, m.start())
            ):
                continue
            if kind == "docker-auth" and not _basic_auth(value):
                continue
            if any(s < end and start < e for s, e in taken):
                continue  # already reported by a more specific rule
            taken.append((start, end))
            detail = f"{key} {redact(value)}" if key else redact(value)
            if kind in ("secret-assignment", "netrc-password"):
                detail = f"{key}={redact(value)}"
            elif kind == "url-credentials":
                detail = f"{key}:{redact(value)}@…"
            line = text.count("\n", 0, m.start()) + 1
            out.append(Match(kind, line, detail, fingerprint(kind, value)))
            if len(out) >= limit:
                return out
    out.sort(key=lambda x: (x.line, x.kind))
    return out


def scan_bytes(data: bytes, settings: bool, netrc: bool = False) -> list[Match]:
    """scan_text over a file's bytes, decoded as latin-1 (fast, one character per byte:
    the rules' formats are ASCII) only when the prefilter found an anchor in them."""
    spans = byte_windows(data, any_case_rules(settings, netrc))
    if not spans:
        return []
    return scan_text(data.decode("latin-1"), settings, netrc, data=data, spans=spans)


def any_case_rules(settings: bool, netrc: bool) -> tuple[str, ...]:
    """The ANY_CASE rules a settings file (`settings`) or a netrc file is searched for."""
    return (("secret-assignment",) if settings else ()) + (("netrc-password",) if netrc else ())


def _utf8(s: str) -> str:
    return s.encode("latin-1").decode("utf-8", "replace")


def _basic_auth(value: str) -> bool:
    """docker's `"auth"` is base64 of `user:password`: anything else is not one."""
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in raw.strip(b":")
