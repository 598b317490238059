"""What a secret looks like: file paths that hold credentials, content patterns, and how to
show a value without printing it (first and last characters only)."""

from __future__ import annotations

import re
from dataclasses import dataclass

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

# (kind, pattern): group "v" is the secret value; group "k" (optional) names it.
CONTENT_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "private-key",
        re.compile(
            r"-----BEGIN (?P<k>(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"
            r"(?P<v>[\s\S]{0,8192}?)(?:-----END|\Z)"
        ),
    ),
    ("aws-access-key-id", re.compile(r"\b(?P<v>(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b")),
    (
        "aws-secret-access-key",
        re.compile(
            r"(?i)\b(?P<k>aws_?secret_?access_?key)\b[\"']?\s*[=:]\s*[\"']?(?P<v>[A-Za-z0-9/+=]{40})"
        ),
    ),
    (
        "github-token",
        re.compile(
            r"\b(?P<v>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"
        ),
    ),
    ("gitlab-token", re.compile(r"\b(?P<v>glpat-[A-Za-z0-9_\-]{20,})")),
    ("slack-token", re.compile(r"\b(?P<v>xox[abposr]-[A-Za-z0-9\-]{10,})")),
    ("google-api-key", re.compile(r"\b(?P<v>AIza[0-9A-Za-z_\-]{35})")),
    ("npm-token", re.compile(r"\b(?P<v>npm_[A-Za-z0-9]{36})\b")),
    ("npm-token", re.compile(r"(?P<k>_auth(?:Token)?)\s*=\s*[\"']?(?P<v>[^\s\"'$][^\s\"']{6,})")),
    ("pypi-token", re.compile(r"\b(?P<v>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})")),
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

GENERIC = re.compile(
    r"(?i)(?<![A-Za-z0-9_.\-])(?P<k>[A-Za-z0-9_.\-]*?" + _WORDS + r")[\"']?[ \t]*[=:][ \t]*"
    r"[\"']?(?P<v>[^\s\"'#;&|,}]{4,})"
)
NETRC = re.compile(r"\b(?P<k>password)\s+(?P<v>\S+)")

_MAY_BE_PLACEHOLDER = frozenset(
    {"secret-assignment", "url-credentials", "npm-token", "netrc-password"}
)
_PLACEHOLDER = re.compile(r"^(\$|\{\{|<|%\(|\*|/|\.\.?/|null$|none$|true$|false$|x+$)", re.I)


@dataclass(slots=True, frozen=True)
class Match:
    kind: str
    line: int  # 1-based
    detail: str  # the key (if any) and the redacted value


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


def scan_text(text: str, settings: bool, netrc: bool = False, limit: int = 50) -> list[Match]:
    """Secrets in `text`. `settings` adds `NAME_TOKEN=value`-style assignments (for env
    files, definitions, configs); `netrc` adds netrc's `password VALUE`."""
    out: list[Match] = []
    taken: list[tuple[int, int]] = []
    rules = list(CONTENT_RULES)
    if settings:
        rules.append(("secret-assignment", GENERIC))
    if netrc:
        rules.append(("netrc-password", NETRC))
    for kind, rule in rules:
        for m in rule.finditer(text):
            value = m.group("v")
            start, end = m.span("v")
            if kind in _MAY_BE_PLACEHOLDER and _PLACEHOLDER.match(value):
                continue
            if any(s < end and start < e for s, e in taken):
                continue  # already reported by a more specific rule
            taken.append((start, end))
            key = m.groupdict().get("k")
            detail = f"{key} {redact(value)}" if key else redact(value)
            if kind in ("secret-assignment", "netrc-password"):
                detail = f"{key}={redact(value)}"
            elif kind == "url-credentials":
                detail = f"{key}:{redact(value)}@…"
            out.append(Match(kind, text.count("\n", 0, m.start()) + 1, detail))
            if len(out) >= limit:
                return out
    out.sort(key=lambda x: (x.line, x.kind))
    return out
