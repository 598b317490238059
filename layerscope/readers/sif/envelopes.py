"""The two signature formats a SIF Signature object holds, opened with maintained libraries:

- OpenPGP cleartext (`apptainer sign`'s default, and every legacy signature): checked with
  pysequoia (Sequoia-PGP). The signed text is a JSON digest list, or, in legacy
  signatures, "SIFHASH:\\n<hex digest>";
- DSSE (`apptainer sign --key`): a JSON envelope whose payload type is
  application/vnd.sylabs.sif-metadata+json, signed over DSSE's pre-authentication
  encoding with an RSA (PKCS#1 v1.5), ECDSA or Ed25519 key; checked with `cryptography`.

`open_envelope` returns what the signature says without checking it (format, signed text,
issuer); `check_pgp` / `check_dsse` check it against the keys: (status, signer, reason).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from layerscope.readers.sif.keys import Keys, default_keyring_note

DSSE_TYPE = "application/vnd.sylabs.sif-metadata+json"
BEGIN_SIGNED = b"-----BEGIN PGP SIGNED MESSAGE-----"
BEGIN_SIG = b"-----BEGIN PGP SIGNATURE-----"
END_SIG = b"-----END PGP SIGNATURE-----"
LEGACY_PREFIX = b"SIFHASH:\n"

VALID, INVALID, UNKNOWN = "valid", "invalid", "unknown signer"
# Sequoia could not decide (a packet it does not parse, a key its policy holds was not yet
# valid when it signed) where GnuPG and apptainer accept the signature: not "invalid",
# which would be a false alarm, and not "valid", which layerscope cannot vouch for.
UNVERIFIED = "unverified"


@dataclass(slots=True)
class Envelope:
    format: str  # "pgp-cleartext", "pgp-cleartext-legacy", "dsse", "unknown"
    text: bytes | None  # the signed text (plaintext / DSSE payload), unverified
    issuer: str | None  # PGP issuer fingerprint or key ID; DSSE key IDs joined by ","
    raw: bytes


def open_envelope(raw: bytes) -> Envelope:
    data = raw.rstrip(b"\0")
    if data.lstrip().startswith(BEGIN_SIGNED):
        text, issuer = _cleartext(data)
        legacy = text is not None and text.startswith(LEGACY_PREFIX)
        return Envelope("pgp-cleartext-legacy" if legacy else "pgp-cleartext", text, issuer, data)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        doc = None
    if isinstance(doc, dict) and doc.get("payloadType") == DSSE_TYPE:
        try:
            text = base64.b64decode(str(doc.get("payload", "")), validate=True)
        except (binascii.Error, ValueError):
            text = None
        sigs = doc.get("signatures") if isinstance(doc.get("signatures"), list) else []
        assert isinstance(sigs, list)
        ids = [str(s.get("keyid")) for s in sigs if isinstance(s, dict) and s.get("keyid")]
        return Envelope("dsse", text, ",".join(ids) or None, data)
    return Envelope("unknown", None, None, data)


def _cleartext(data: bytes) -> tuple[bytes | None, str | None]:
    """The signed text of a cleartext message (dash-escapes undone, RFC 4880 7.1) and the
    signature's issuer, both unverified."""
    start = data.find(BEGIN_SIGNED)
    body_at = data.find(b"\n\n", start)
    sig_at = data.find(b"\n" + BEGIN_SIG, body_at)
    if body_at < 0 or sig_at < 0:
        return None, None
    lines = data[body_at + 2 : sig_at].split(b"\n")
    text = b"\n".join(ln[2:] if ln.startswith(b"- ") else ln for ln in lines)
    end = data.find(END_SIG, sig_at)
    issuer = None
    if end > 0:
        import pysequoia

        try:
            sig = pysequoia.Sig.from_bytes(data[sig_at + 1 : end + len(END_SIG)])
            found = sig.issuer_fingerprint or sig.issuer_key_id
            issuer = str(found).upper() if found else None
        except (ValueError, RuntimeError):
            issuer = None
    return text, issuer


def check_pgp(env: Envelope, keys: Keys) -> tuple[str, str | None, str | None, bytes | None]:
    """(status, signer's primary fingerprint, reason, verified text)."""
    import pysequoia

    if env.issuer is None:
        why = "Sequoia does not parse this OpenPGP signature packet (GnuPG and apptainer do)"
        return UNVERIFIED, None, why, env.text
    if env.issuer.lower() not in keys.pgp_ids:
        return UNKNOWN, env.issuer, default_keyring_note(keys), None
    try:
        result = pysequoia.verify(bytes=env.raw, store=lambda _ids: keys.certs)
    except (RuntimeError, ValueError) as e:
        early = _signed_before_key(env, keys)
        if early is not None:
            return UNVERIFIED, env.issuer, early, env.text
        why = "the signed text or the signature changed after signing"
        return INVALID, env.issuer, f"{why} ({str(e).splitlines()[0]})", None
    good = list(result.valid_sigs)
    if not good:
        return INVALID, env.issuer, "the signature does not verify", None
    signer = str(good[0].certificate).upper()
    return VALID, signer, None, bytes(result.bytes or b"")


def _signed_before_key(env: Envelope, keys: Keys) -> str | None:
    """When Sequoia refused a signature made before the oldest self-signature the keyring
    holds for its key, that is why, in words (else None: the refusal is a real failure)."""
    import pysequoia

    try:
        start = env.raw.find(BEGIN_SIG)
        made = pysequoia.Sig.from_bytes(env.raw[start:]).created
    except (ValueError, RuntimeError):
        made = None
    fpr = env.issuer.lower() if env.issuer else ""
    times = next((t for p, t in keys.bound.items() if p == fpr or p.endswith(fpr)), [])
    if made is not None and times and made.timestamp() < min(times):
        bound = datetime.fromtimestamp(min(times), tz=timezone.utc)
        return (
            f"signed {made:%Y-%m-%d}, before the key's oldest self-signature in the keyring "
            f"({bound:%Y-%m-%d}): Sequoia holds the key was not valid then; GnuPG and "
            "apptainer accept it"
        )
    return None


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is actually signed."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def check_dsse(
    env: Envelope, keys: Keys, hash_name: str | None
) -> tuple[str, str | None, str | None, bytes | None]:
    """(status, signer's key ID, reason, verified payload). One valid signature by a key
    in the keyrings suffices (sylabs' threshold of 1)."""
    from cryptography.exceptions import InvalidSignature

    doc = json.loads(env.raw)
    sigs = [s for s in doc.get("signatures") or [] if isinstance(s, dict)]
    if env.text is None or not sigs:
        return INVALID, None, "a DSSE envelope without payload or signatures", None
    message = pae(DSSE_TYPE, env.text)
    tried = None
    for s in sigs:
        keyid = str(s.get("keyid") or "")
        try:
            sig = base64.b64decode(str(s.get("sig", "")), validate=True)
        except (binascii.Error, ValueError):
            continue
        for kid, key in keys.public.items():
            if keyid and keyid != kid:
                continue
            tried = kid
            try:
                _verify_key(key, sig, message, hash_name)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return VALID, kid, None, env.text
    if tried is None:
        return UNKNOWN, env.issuer, default_keyring_note(keys), None
    return INVALID, tried, "the payload or the signature changed after signing", None


def _verify_key(key: object, sig: bytes, message: bytes, hash_name: str | None) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    algo: hashes.HashAlgorithm = {
        "SHA-384": hashes.SHA384(),
        "SHA-512": hashes.SHA512(),
    }.get(hash_name or "", hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(sig, message)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(sig, message, ec.ECDSA(algo))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(sig, message, padding.PKCS1v15(), algo)
    else:
        raise TypeError("unsupported key type")
