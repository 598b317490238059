"""Secrets: by path and content, in files of any layer and in image metadata; values are
never shown whole."""

from __future__ import annotations

import pytest

from layerscope.engine.loading import load_image
from layerscope.model.bloat.secret_anchors import ANCHORS, candidate_rules
from layerscope.model.bloat.secret_rules import CONTENT_RULES, redact, scan_bytes, scan_text
from layerscope.model.bloat.secrets import find_file_secrets, find_meta_secrets
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.image import ImageMeta
from layerscope.model.layers import apply_layers
from tests.conftest import EXPECTED, FIXTURES

# Obviously fake values, assembled at run time so no scanner mistakes this file for a leak.
AWS_ID = "AKIA" + "Q7ZK3MWT" + "9RX2LBNP"
GH = "ghp_" + "x" * 36
TOKEN = "tok-" + "0123456789abcdef"


@pytest.mark.parametrize("value", ["abc", "abcdefgh", "0123456789abcdefghij", TOKEN, GH])
def test_redact_never_shows_the_whole_value(value: str) -> None:
    shown = redact(value)
    assert value not in shown
    assert f"({len(value)} chars)" in shown
    if len(value) >= 12:
        assert shown.startswith(value[:2]) and value[-2:] + " (" in shown


def test_content_patterns() -> None:
    text = "\n".join(
        [
            "-----BEGIN RSA PRIVATE KEY-----",
            "MIIEowIBAAKCAQEA" + "Q" * 40,
            "-----END RSA PRIVATE KEY-----",
            f"aws_access_key_id = {AWS_ID}",
            f"GITHUB={GH}",
            "db: postgres://admin:s3cr3t-pass@db.internal/app",
            f"export API_TOKEN={TOKEN}",
            "PASSWORD=${DB_PASSWORD}",  # a reference, not a value
            "token: <your token here>",
        ]
    )
    found = scan_text(text, settings=True)
    assert [(m.kind, m.line) for m in found] == [
        ("private-key", 1),
        ("aws-access-key-id", 4),
        ("github-token", 5),
        ("url-credentials", 6),
        ("secret-assignment", 7),
    ]
    for secret in (AWS_ID, GH, "s3cr3t-pass", TOKEN, "Q" * 40):
        assert all(secret not in m.detail for m in found)
    # without `settings`, NAME=value assignments are not claimed
    assert "secret-assignment" not in {m.kind for m in scan_text(text, settings=False)}


def _kinds(text: str, settings: bool = True, netrc: bool = False) -> list[str]:
    return [m.kind for m in scan_text(text, settings=settings, netrc=netrc)]


B64 = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" * 2
# (kind, text a rule must find, text it must not): each rule with examples both ways
RULE_EXAMPLES = [
    ("private-key", f"-----BEGIN PRIVATE KEY-----\n{B64}\n-----END PRIVATE KEY-----\n",
     'HEADER = "-----BEGIN RSA PRIVATE KEY-----"\nFOOTER = "-----END RSA PRIVATE KEY-----"'),
    ("private-key", '{"private_key": "-----BEGIN PRIVATE KEY-----\\n' + B64
     + '\\n-----END PRIVATE KEY-----\\n"}',
     "-----BEGIN EC PRIVATE KEY-----\n...\n-----END EC PRIVATE KEY-----"),
    ("aws-access-key-id", f"id = {AWS_ID}", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
    ("aws-secret-access-key", "aws_secret_access_key = " + "Zq8/" * 10,
     "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("github-token", f"GH={GH}", "ghp_short"),
    ("gitlab-token", "glpat-" + "Ab3" * 7, "glpat-abc"),
    ("slack-token", "xoxb-123456789012-" + "aB3" * 8, "xoxb-not-a-token"),
    ("google-api-key", "key=AIza" + "Sy9" * 11 + "Q0", "AIzaShort"),
    ("stripe-key", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
    ("sendgrid-key", "SG." + "a" * 22 + "." + "b" * 43, "SG.short.key"),
    ("huggingface-token", "hf_" + "abcdefghijklmnopqrstuvwxyzABCDEFGH", "hf_hub_download"),
    ("docker-auth", '{"auths": {"r.io": {"auth": "dXNlcjpzM2NyM3RQYXNz"}}}',
     '{"auth": "Tm9Db2xvbkhlcmU="}'),
    ("url-credentials", "db: postgres://admin:s3cr3t-pass@db.internal/app",
     "proxy http://user:password@proxy.example.com:3128/"),
    ("secret-assignment", f"export API_TOKEN={TOKEN}", "passwd: files systemd"),
    ("secret-assignment", "db_password = Tr0ub4dor&3", "# db_password = Tr0ub4dor&3"),
    ("secret-assignment", "client_secret: 9f8e7d6c5b4a3f2e1d0c",
     "password: ${DB_PASSWORD}\ntoken: <your token here>\npassword = changeme"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "positive", "negative"), RULE_EXAMPLES)
def test_each_rule_both_ways(kind: str, positive: str, negative: str) -> None:
    assert kind in _kinds(positive)
    assert _kinds(negative) == []
    # the same on a file's bytes (latin-1 text, lowercased as bytes)
    assert kind in [m.kind for m in scan_bytes(positive.encode(), settings=True)]
    assert scan_bytes(negative.encode(), settings=True) == []


def test_overlapping_anchors_keep_every_rule() -> None:
    """`_auth` (npm) starts inside `my_auth_key` before `auth_key` (settings) does: the
    prefilter's non-overlapping search must still let the settings rule see the line."""
    line = "my_auth_key = Xk9vQ2mZ7pL4\n"
    assert _kinds(line) == ["secret-assignment"]
    assert [m.kind for m in scan_bytes(line.encode(), settings=True)] == ["secret-assignment"]


def test_metadata_with_lone_surrogates() -> None:
    """Image metadata may hold names that were not UTF-8 (surrogate escapes)."""
    found = scan_text("\udcff" + f"GH={GH}\n\ud800", settings=True)
    assert [m.kind for m in found] == ["github-token"]


def test_non_ascii_values_are_shown_as_utf8() -> None:
    found = scan_bytes("password = Žluťoučký-kůň-42\n".encode(), settings=True)
    assert [m.kind for m in found] == ["secret-assignment"]
    assert found[0].detail.startswith("password=Žl…42")


def test_every_rule_has_anchors_for_the_prefilter() -> None:
    kinds = {kind for kind, _ in CONTENT_RULES} | {"secret-assignment", "netrc-password"}
    assert kinds == set(ANCHORS)
    assert candidate_rules("nothing to see here") == frozenset()
    assert "github-token" not in candidate_rules("GHP_" + "x" * 36)  # the format's case
    assert "secret-assignment" in candidate_rules("DB_PASSWORD")  # a key in any case


def test_npmrc_auth_only_in_settings_files() -> None:
    line = "_authToken = npmTok3n-Abc123xyz\n"
    assert _kinds(line) == ["npm-token"]
    assert _kinds(line, settings=False) == []
    # Python's urllib/request.py, Debian's libpython3.11-minimal
    assert _kinds("        self._auth = base64.b64encode(raw).decode()\n") == []


def test_stock_configuration_lines_are_no_secrets() -> None:
    """Lines of stock Debian files that an earlier rule set reported (issue 16)."""
    for text in (
        "passwd:         files\ngroup:          files\nshadow:         files\n",  # nsswitch
        "# Name: passwords\n# Driver: File\n# Filename: /var/cache/debconf/passwords.dat\n",
        "password\trequisite\t\t\tpam_pwquality.so retry=3\n",  # pam.d
        "#PasswordAuthentication yes\nPermitEmptyPasswords no\n",  # sshd_config
        "ENCRYPT_METHOD SHA512\nPASS_MAX_DAYS\t99999\n",  # login.defs
    ):
        assert _kinds(text) == [], text


def test_netrc_and_shadow_hashes() -> None:
    assert [m.kind for m in scan_text("machine h login u password hunter22", False, True)] == [
        "netrc-password"
    ]
    shadow = "root:*::0:::::\nuser:$6$saltsalt$" + "h" * 40 + ":19000:0:99999:7:::\n"
    assert [(m.kind, m.line) for m in scan_text(shadow, False)] == [("password-hash", 2)]


def _layer_of(member: str, prefix: str = "app-1.0") -> int:
    """0-based index of the layer whose tar listing (tar -tv, reference) has `member`."""
    for n in range(1, 6):
        listing = (EXPECTED / "oci" / f"{prefix}.layer{n}.tv.txt").read_text().split()
        if member in listing:
            return n - 1
    raise AssertionError(member)


def test_app_1_0_deleted_secrets_are_found_as_recoverable() -> None:
    img = load_image(f"oci:{FIXTURES}/oci/app-layout:1.0")
    try:
        found = find_file_secrets(img.tree, lambda n: img.read(n))
        meta = find_meta_secrets(img.meta)
    finally:
        img.close()
    assert meta == []
    for path, wh in (("/root/.ssh/id_rsa", "root/.wh..ssh"), ("/app/.env", "app/.wh..env")):
        mine = [f for f in found if f.location == path]
        assert {f.how for f in mine} == {"path", "content"}
        written, deleted = _layer_of(path.lstrip("/")), _layer_of(wh)
        for f in mine:
            assert (f.layer, f.hidden_by, f.hidden_how, f.visible) == (
                written,
                deleted,
                "whiteout",
                False,
            )
            assert f.recoverable
            assert f.status() == (
                f"present in layer {written}, deleted in layer {deleted}, recoverable"
            )
    key = next(f for f in found if f.kind == "private-key")
    data_line = "TEST-FIXTURE-DUMMY-KEY-NOT-A-REAL-SECRET-layerscope"
    assert data_line not in key.detail and "OPENSSH PRIVATE KEY" in key.detail
    assert {f.location for f in found} == {"/root/.ssh/id_rsa", "/app/.env"}


def test_a_live_secret_is_visible() -> None:
    tree = apply_layers(
        [([Entry("/root/.aws/credentials", EntryKind.FILE, size=30, loc=1)], "oci")]
    )
    found = find_file_secrets(tree, lambda n: b"[default]\naws_secret_access_key = x\n")
    assert [(f.kind, f.visible, f.layer) for f in found] == [("aws-credentials", True, 0)]
    assert "visible in the final tree" in found[0].status()


def test_metadata_secrets() -> None:
    meta = ImageMeta(
        format="sif",
        source="x.sif",
        definition=f"Bootstrap: docker\n%environment\n    export API_TOKEN={TOKEN}\n",
        environment="export LC_ALL=C\n",
        labels={"Author": "me", "deploy.password": "hunter2hunter2"},
        config={"Env": ["PATH=/usr/bin", f"GH_TOKEN={GH}"]},
        history=[{"created_by": f"RUN |1 NPM_TOKEN={TOKEN} /bin/sh -c npm ci"}],
    )
    found = find_meta_secrets(meta)
    assert {(f.source, f.location, f.kind) for f in found} == {
        ("definition", "definition", "secret-assignment"),
        ("labels", "labels[deploy.password]", "secret-assignment"),
        ("config", "config.Env[1]", "github-token"),
        ("history", "history[0].created_by", "secret-assignment"),
    }
    assert all(f.visible and not f.recoverable for f in found)
    assert all(TOKEN not in f.detail and GH not in f.detail for f in found)
    assert next(f for f in found if f.source == "definition").line == 3


@pytest.mark.parametrize(
    "ref",
    [
        "fixtures/sif/alpine-like-base.sif",
        "fixtures/sif/stage1.sif",
        "fixtures/sif/stage2.sif",
        "fixtures/sif/final.sif",
        "fixtures/sif/with-overlay.sif",
        "oci:fixtures/oci/app-layout:1.1",
    ],
)
def test_no_false_positives_on_clean_fixtures(ref: str) -> None:
    img = load_image(ref.replace("fixtures/", f"{FIXTURES}/", 1))
    try:
        found = find_file_secrets(img.tree, lambda n: img.read(n), deep=True)
        found += find_meta_secrets(img.meta)
    finally:
        img.close()
    assert found == []
