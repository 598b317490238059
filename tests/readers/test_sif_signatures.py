"""SIF signatures: the sylabs-signed fixture, SIFs re-signed here with gpg (current and
legacy formats) and openssl (DSSE), tampered with, checked with other keys and none.

No `siftool verify` exists in Debian's siftool 2.8 and apptainer is not packaged, so the
expected results come from the SIF specification as sylabs/sif implements it (see
layerscope/readers/sif/signatures.py): what is signed is text sylabs' own code wrote, and
gpg itself confirms every signature we call cryptographically good or bad.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from layerscope.readers import OpenOptions, open_image
from layerscope.readers.base import SignatureVerifier
from tests.cli.run import proc
from tests.conftest import EXPECTED, FIXTURES
from tests.readers.sif_signing import (
    Gpg,
    descriptor_offset,
    flip_byte,
    home_with_keyring,
    object_range,
    openssl_key,
    resign_dsse,
    resign_pgp,
    signatures,
)

SIF = FIXTURES / "sif"
UPSTREAM = SIF / "upstream-sylabs"
SYLABS_KEY = SIF / "keys" / "sylabs-test-key.pub.asc"
SYLABS_FPR = "12045C8C0B1004D058DE4BEDA20C27EE7FF7BA84"


def verified(path: Path, *keyrings: Path) -> list[dict[str, Any]]:
    reader = open_image(str(path), OpenOptions(keyrings=tuple(map(str, keyrings))))
    try:
        assert isinstance(reader, SignatureVerifier)
        meta = reader.describe()
        reader.verify_signatures(meta)
        return meta.signatures
    finally:
        reader.close()


@pytest.fixture(scope="module")
def gpg(tmp_path_factory: pytest.TempPathFactory) -> tuple[Gpg, str, str, Path, Path]:
    """A GnuPG home with a signing key and another key; their public keyrings."""
    work = tmp_path_factory.mktemp("gpg")
    g = Gpg(work / "home")
    signer = g.new_key("SIF Signer <signer@example.org>")
    other = g.new_key("Someone Else <other@example.org>")
    keys = g.export(signer, work / "signer.asc"), g.export(other, work / "other.asc")
    return g, signer, other, *keys


def test_the_sylabs_signed_fixture_verifies_as_the_reference_verifier_says() -> None:
    # expected/: what sylabs/sif's integrity.Verifier printed for this file
    reference = (EXPECTED / "sif" / "alpine-like-base-signed.verify.txt").read_text()
    assert reference.strip() == f"verified: signed by {SYLABS_FPR}"
    [sig] = verified(SIF / "alpine-like-base-signed.sif", SYLABS_KEY)
    assert (sig["status"], sig["signer"], sig["format"]) == ("valid", SYLABS_FPR, "pgp-cleartext")
    assert sig["signed_objects"] == [1, 2, 3, 4] and sig["reason"] is None


@pytest.mark.parametrize(
    "name",
    [
        "one-group-signed.sif",
        "two-groups-signed.sif",
        "one-group-signed-legacy.sif",
        "one-group-signed-legacy-group.sif",
        "one-group-signed-legacy-all.sif",
        "two-groups-signed-legacy.sif",
        "two-groups-signed-legacy-group.sif",
        "two-groups-signed-legacy-all.sif",
    ],
)
def test_sylabs_signed_text_re_signed_with_gpg_verifies(
    name: str, gpg: tuple[Gpg, str, str, Path, Path], tmp_path: Path
) -> None:
    """Every digest sylabs wrote (header, descriptors, data; legacy SIFHASH of an object
    or a group) is what layerscope computes: signed again by our key, each one is valid."""
    g, signer, _, signer_pub, _ = gpg
    out = resign_pgp(UPSTREAM / name, tmp_path / name, g, signer)
    sigs = verified(out, signer_pub)
    assert sigs and all(s["status"] == "valid" for s in sigs), sigs
    assert all(s["signer"] == signer for s in sigs)
    legacy = "legacy" in name
    assert {s["format"] for s in sigs} == {"pgp-cleartext-legacy" if legacy else "pgp-cleartext"}
    for s in sigs:  # gpg agrees the signature objects are good
        offset, size = object_range(out, s["id"])
        assert g.verifies(out.read_bytes()[offset : offset + size])


def test_sylabs_2020_signatures_show_why_sequoia_refuses_them(tmp_path: Path) -> None:
    """The upstream images were signed in 2020; the test key in the Debian source carries
    only self-signatures from 2022. Sequoia (RFC 4880's rule: the key must be valid when it
    signs) refuses them where GnuPG and apptainer accept: "unverified", not "invalid" (a
    false alarm), with the reason; the data is still checked against the signed digests."""
    [sig] = verified(UPSTREAM / "one-group-signed.sif", SYLABS_KEY)
    assert sig["status"] == "unverified"
    assert "2020-06-30" in sig["reason"] and "2022-05-11" in sig["reason"]
    assert "the data matches the digests it signs" in sig["reason"]
    changed = tmp_path / "changed.sif"
    shutil.copyfile(UPSTREAM / "one-group-signed.sif", changed)
    offset, size = object_range(changed, 1)
    flip_byte(changed, offset + size // 2)
    [sig] = verified(changed, SYLABS_KEY)
    assert sig["status"] == "invalid" and sig["reason"].startswith("the data changed")


def test_one_byte_of_the_partition_changed(
    gpg: tuple[Gpg, str, str, Path, Path], tmp_path: Path
) -> None:
    g, signer, _, signer_pub, _ = gpg
    out = resign_pgp(SIF / "alpine-like-base-signed.sif", tmp_path / "signed.sif", g, signer)
    offset, size = object_range(out, 4)
    flip_byte(out, offset + size // 2)
    [sig] = verified(out, signer_pub)
    assert sig["status"] == "invalid"
    assert sig["reason"] == "the data changed after signing (object 4's data)"
    r = proc("inspect", "--keyring", str(signer_pub), str(out))
    assert r.code == 3 or r.code == 0  # the squashfs may or may not still read
    assert "invalid (the data changed after signing (object 4's data))" in r.out.decode()


def test_descriptor_and_header_changes(
    gpg: tuple[Gpg, str, str, Path, Path], tmp_path: Path
) -> None:
    g, signer, _, signer_pub, _ = gpg
    src = resign_pgp(SIF / "alpine-like-base-signed.sif", tmp_path / "signed.sif", g, signer)
    named = tmp_path / "renamed.sif"
    named.write_bytes(src.read_bytes())
    # rawDescriptor: DataType, Used, ID, GroupID, LinkedID, Offset, Size, SizeWithPadding,
    # CreatedAt, ModifiedAt (byte 49), UID, GID, Name (byte 73)...: ModifiedAt is not signed
    flip_byte(named, descriptor_offset(named, 2) + 49)
    assert [s["status"] for s in verified(named, signer_pub)] == ["valid"]
    flip_byte(named, descriptor_offset(named, 2) + 73)  # the first byte of its name
    assert verified(named, signer_pub)[0]["reason"] == (
        "the data changed after signing (object 2's descriptor)"
    )
    header = tmp_path / "header.sif"
    header.write_bytes(src.read_bytes())
    flip_byte(header, 48)  # a byte of the SIF ID
    assert verified(header, signer_pub)[0]["reason"] == (
        "the data changed after signing (the SIF header)"
    )
    # a legacy signature protects the data only, not the header (the specification's
    # warning): the same change leaves it valid
    legacy = resign_pgp(UPSTREAM / "one-group-signed-legacy.sif", tmp_path / "l.sif", g, signer)
    flip_byte(legacy, 48)
    assert [s["status"] for s in verified(legacy, signer_pub)] == ["valid"]
    offset, _ = object_range(legacy, 2)
    flip_byte(legacy, offset)
    [sig] = verified(legacy, signer_pub)
    assert (sig["status"], sig["reason"]) == (
        "invalid",
        "the data changed after signing (the data of object(s) 2)",
    )


def test_wrong_key_no_key_and_the_default_keyring(
    gpg: tuple[Gpg, str, str, Path, Path], tmp_path: Path
) -> None:
    g, signer, _, _, other_pub = gpg
    out = resign_pgp(SIF / "alpine-like-base-signed.sif", tmp_path / "signed.sif", g, signer)
    [sig] = verified(out, other_pub)
    assert sig["status"] == "unknown signer" and sig["signer"] == signer
    assert str(other_pub) in sig["reason"]
    # no --keyring: Apptainer's ~/.apptainer/keys/pgp-public (binary, as apptainer keeps it)
    empty_home = {**os.environ, "HOME": str(tmp_path / "nohome")}
    r = proc("inspect", "--json", str(out), env=empty_home)
    [sig] = r.json()["signatures"]
    assert sig["status"] == "unknown signer" and "no keyring" in sig["reason"]
    env = home_with_keyring(tmp_path / "home", g.run("--export", signer))
    r = proc("inspect", "--json", str(out), env=env)
    assert r.code == 0, r.err
    [sig] = r.json()["signatures"]
    assert (sig["status"], sig["signer"], sig["signed_objects"]) == ("valid", signer, [1, 2, 3, 4])


def test_descriptor_naming_another_signer(
    gpg: tuple[Gpg, str, str, Path, Path], tmp_path: Path
) -> None:
    g, signer, other, signer_pub, _ = gpg
    out = resign_pgp(SIF / "alpine-like-base-signed.sif", tmp_path / "s.sif", g, signer, other)
    [sig] = verified(out, signer_pub)
    assert sig["status"] == "invalid" and f"names signer {other}" in sig["reason"]


@pytest.mark.parametrize("kind", ["rsa", "ec", "ed25519"])
def test_dsse_signatures(kind: str, tmp_path: Path) -> None:
    key, pub = openssl_key(tmp_path, kind)
    out = resign_dsse(SIF / "alpine-like-base-signed.sif", tmp_path / "dsse.sif", key, pub, kind)
    [sig] = verified(out, pub)
    assert (sig["format"], sig["status"]) == ("dsse", "valid")
    assert sig["signed_objects"] == [1, 2, 3, 4]
    (tmp_path / "other").mkdir()
    _, other = openssl_key(tmp_path / "other", kind)
    assert verified(out, other)[0]["status"] == "unknown signer"
    offset, _ = object_range(out, 1)
    flip_byte(out, offset)
    [sig] = verified(out, pub)
    assert (sig["status"], sig["reason"]) == (
        "invalid",
        "the data changed after signing (object 1's data)",
    )


def test_dsse_envelope_changed_after_signing(tmp_path: Path) -> None:
    key, pub = openssl_key(tmp_path, "ec")
    out = resign_dsse(SIF / "alpine-like-base-signed.sif", tmp_path / "dsse.sif", key, pub, "ec")
    sig_id = signatures(out)[0].id
    offset, size = object_range(out, sig_id)
    data = bytearray(out.read_bytes())
    envelope = bytes(data[offset : offset + size])
    # one character of the base64 payload changed: the envelope no longer verifies
    at = envelope.index(b'"payload": "') + 20
    data[offset + at] = ord("A") if data[offset + at] != ord("A") else ord("B")
    out.write_bytes(bytes(data))
    [sig] = verified(out, pub)
    assert sig["status"] == "invalid"


def test_check_rule_signed(gpg: tuple[Gpg, str, str, Path, Path], tmp_path: Path) -> None:
    g, signer, _, signer_pub, other_pub = gpg
    out = resign_pgp(SIF / "alpine-like-base-signed.sif", tmp_path / "signed.sif", g, signer)
    ok = proc("check", "--rule", "signed=true", "--keyring", str(signer_pub), "--json", str(out))
    assert ok.code == 0, ok.err
    rule = next(r for r in ok.json()["rules"] if r["key"] == "signed")
    assert (rule["status"], rule["value"], rule["threshold"]) == ("PASS", 1, 1)
    assert ok.json()["analysis"]["signatures"][0]["status"] == "valid"
    for image, keyring in ((out, other_pub), (SIF / "alpine-like-base.sif", signer_pub)):
        bad = proc("check", "--rule", "signed=true", "--keyring", str(keyring), str(image))
        assert bad.code == 1, bad.err
        assert "FAIL  signed: valid signatures from the keyring 0 < 1" in bad.out.decode()
    off = proc("check", "--keyring", str(signer_pub), str(SIF / "alpine-like-base.sif"))
    assert off.code == 0 and "SKIP  signed: disabled" in off.out.decode()


def test_keyring_errors_are_usage_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.asc"
    junk.write_text("not a key\n")
    for keyring, why in ((tmp_path / "missing.asc", "no such file"), (junk, "holds no")):
        r = proc("inspect", "--keyring", str(keyring), str(SIF / "alpine-like-base-signed.sif"))
        assert r.code == 2 and why in r.err and r.err.count("\n") == 1
