"""The keys SIF signatures are verified against: OpenPGP certificates (what `apptainer
sign` uses, and its keyring `~/.apptainer/keys/pgp-public`) and PEM public keys (what
`apptainer sign --key` uses for DSSE signatures).

`--keyring FILE` may be given several times; each file is read as OpenPGP (armored or
binary, one or many certificates) or as PEM public keys, whichever it holds. Without any,
Apptainer's public keyring is used when it exists.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerscope.errors import UsageError

APPTAINER_KEYRING = Path("~/.apptainer/keys/pgp-public")
MAX_KEYRING_BYTES = 64 << 20


@dataclass(slots=True)
class Keys:
    """What the keyrings hold: OpenPGP certificates (pysequoia Cert objects) with every key
    ID and fingerprint of their primary keys and subkeys, the self-signature times of each
    certificate, and PEM public keys by their DSSE key ID (sha256 of the PKIX DER)."""

    sources: list[str] = field(default_factory=list)
    certs: list[Any] = field(default_factory=list)
    pgp_ids: set[str] = field(default_factory=set)  # lower-case hex fingerprints, key IDs
    bound: dict[str, list[float]] = field(default_factory=dict)  # primary fpr -> self-sig times
    public: dict[str, Any] = field(default_factory=dict)  # DSSE key ID -> public key

    def __bool__(self) -> bool:
        return bool(self.certs or self.public)


def load_keys(files: tuple[str, ...] | list[str]) -> Keys:
    """Keys from `files`; from Apptainer's keyring when none are named (none when it is
    missing). A named file that cannot be read, or holds no key, is a UsageError."""
    keys = Keys()
    named = bool(files)
    paths = list(files) or [str(APPTAINER_KEYRING.expanduser())]
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_KEYRING_BYTES + 1)
        except FileNotFoundError:
            if named:
                raise UsageError(f"--keyring {path}: no such file") from None
            continue
        except OSError as e:
            raise UsageError(f"--keyring {path}: cannot read: {e.strerror}") from None
        if len(data) > MAX_KEYRING_BYTES:
            raise UsageError(f"--keyring {path}: larger than {MAX_KEYRING_BYTES} bytes")
        if not (_add_pem(keys, data) or _add_pgp(keys, data)):
            if named:
                raise UsageError(f"--keyring {path}: holds no OpenPGP certificate or PEM key")
            continue
        keys.sources.append(path)
    return keys


def _add_pem(keys: Keys, data: bytes) -> bool:
    if b"-----BEGIN PUBLIC KEY-----" not in data:
        return False
    from cryptography.hazmat.primitives import serialization

    found = False
    for block in data.split(b"-----END PUBLIC KEY-----")[:-1]:
        start = block.find(b"-----BEGIN PUBLIC KEY-----")
        if start < 0:
            continue
        pem = block[start:] + b"-----END PUBLIC KEY-----\n"
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            continue
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        keys.public[hashlib.sha256(der).hexdigest()] = key
        found = True
    return found


def _add_pgp(keys: Keys, data: bytes) -> bool:
    import pysequoia
    from pysequoia.packet import PacketPile, Tag

    try:
        certs = pysequoia.Cert.split_bytes(data)
        packets = list(PacketPile.from_bytes(data))
    except (ValueError, RuntimeError, OSError):
        return False
    if not certs:
        return False
    keys.certs.extend(certs)
    primary = None
    for p in packets:
        if p.tag == Tag.PublicKey:
            primary = str(p.fingerprint).lower()
            keys.bound.setdefault(primary, [])
        if p.tag in (Tag.PublicKey, Tag.PublicSubkey):
            keys.pgp_ids.update({str(p.fingerprint).lower(), str(p.key_id).lower()})
        elif p.tag == Tag.Signature and primary is not None:
            issuer = p.issuer_fingerprint
            made = getattr(p, "signature_created", None)  # pysequoia >= 0.1.3x
            if issuer is not None and str(issuer).lower() == primary and made is not None:
                keys.bound[primary].append(made.timestamp())
    return True


def default_keyring_note(keys: Keys) -> str:
    """Why a signer is unknown when no key was found at all."""
    if keys.sources:
        return "its key is not in " + ", ".join(keys.sources)
    return f"no keyring: give --keyring FILE ({os.fspath(APPTAINER_KEYRING)} does not exist)"
