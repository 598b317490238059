"""Signed SIFs made in the tests by real tools: gpg signs, openssl signs (DSSE), siftool
writes the Signature objects.

What is signed is always text the reference implementation (sylabs/sif pkg/integrity)
wrote: the JSON digest list or the legacy "SIFHASH" line of a fixture it signed. Re-signing
that text with a key made here (and putting the signature where siftool puts it) gives
SIFs that verify exactly when layerscope computes the header, descriptor and data digests
as sylabs does, with keys whose private half the tests hold, so they can also tamper.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from layerscope.readers.sif import format as sf
from layerscope.readers.sif.envelopes import DSSE_TYPE, open_envelope, pae
from tests.conftest import require_tool

HASH_CODES = {"SHA-256": 1, "SHA-384": 2, "SHA-512": 3}
GROUP = 0xF0000000


@dataclass(frozen=True)
class Signature:
    id: int
    raw_link: int
    hash: str | None
    entity: str | None
    text: bytes  # what the signature signs, as the reference implementation wrote it


def signatures(path: Path) -> list[Signature]:
    data = path.read_bytes()
    h = sf.SifHeader.parse(data[: sf.HEADER.size])
    out = []
    for i in range(h.descriptors_total):
        off = h.descriptors_offset + i * sf.DESCRIPTOR.size
        d = sf.SifDescriptor.parse(data[off : off + sf.DESCRIPTOR.size])
        if d.used and d.data_type == sf.SIGNATURE:
            env = open_envelope(data[d.offset : d.offset + d.size])
            assert env.text is not None
            hash_name, entity = d.signature()
            out.append(Signature(d.id, d.raw_link, hash_name, entity, env.text))
    return out


class Gpg:
    """A throw-away GnuPG home with keys made on the spot."""

    def __init__(self, home: Path) -> None:
        self.gpg = require_tool("gpg")
        self.home = home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)

    def run(self, *args: str, data: bytes | None = None) -> bytes:
        r = subprocess.run(
            [self.gpg, "--batch", "--quiet", "--homedir", str(self.home), *args],
            input=data,
            capture_output=True,
            timeout=120,
        )
        if r.returncode != 0:
            raise AssertionError(f"gpg {' '.join(args)}: {r.stderr.decode()[-500:]}")
        return r.stdout

    def new_key(self, uid: str) -> str:
        self.run("--passphrase", "", "--quick-gen-key", uid, "rsa3072", "sign", "1y")
        listing = self.run("--with-colons", "--list-keys", uid).decode()
        return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))

    def export(self, fpr: str, dest: Path, armor: bool = True) -> Path:
        dest.write_bytes(self.run(*(["--armor"] if armor else []), "--export", fpr))
        return dest

    def clearsign(self, fpr: str, text: bytes) -> bytes:
        return self.run("--local-user", fpr, "--digest-algo", "SHA256", "--clearsign", data=text)

    def verifies(self, signed: bytes) -> bool:
        r = subprocess.run(
            [self.gpg, "--batch", "--homedir", str(self.home), "--verify"],
            input=signed,
            capture_output=True,
        )
        return r.returncode == 0


def _replace(dest: Path, sig: Signature, blob: bytes, entity: str) -> None:
    siftool = require_tool("siftool")
    blob_file = dest.with_suffix(f".sig{sig.id}")
    blob_file.write_bytes(blob)
    args = [siftool, "add", str(dest), str(blob_file), "--datatype", "5",
            "--signentity", entity, "--signhash", str(HASH_CODES[sig.hash or "SHA-256"]),
            "--link", str(sig.raw_link)]  # fmt: skip
    subprocess.run(args, check=True, capture_output=True)
    blob_file.unlink()


def _without_signatures(src: Path, dest: Path) -> list[Signature]:
    siftool = require_tool("siftool")
    sigs = signatures(src)
    shutil.copyfile(src, dest)
    for sig in sigs:
        subprocess.run([siftool, "del", str(sig.id), str(dest)], check=True, capture_output=True)
    return sigs


def resign_pgp(src: Path, dest: Path, gpg: Gpg, fpr: str, entity: str | None = None) -> Path:
    """`src`'s signatures, each made again by `fpr` over the same text."""
    for sig in _without_signatures(src, dest):
        _replace(dest, sig, gpg.clearsign(fpr, sig.text), entity or fpr)
    return dest


def openssl_key(work: Path, kind: str) -> tuple[Path, Path]:
    """(private, public) PEM files of a new `kind` key: rsa, ec (P-256) or ed25519."""
    openssl = require_tool("openssl")
    key, pub = work / f"{kind}.key.pem", work / f"{kind}.pub.pem"
    algo = {"rsa": ["RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "ec": ["EC", "-pkeyopt",
            "ec_paramgen_curve:P-256"], "ed25519": ["ED25519"]}[kind]  # fmt: skip
    subprocess.run([openssl, "genpkey", "-algorithm", *algo, "-out", str(key)], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([openssl, "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True,
                   capture_output=True)  # fmt: skip
    return key, pub


def _openssl_sign(key: Path, kind: str, message: bytes, work: Path) -> bytes:
    openssl = require_tool("openssl")
    msg = work / "pae.bin"
    msg.write_bytes(message)
    if kind == "ed25519":
        cmd = [openssl, "pkeyutl", "-sign", "-rawin", "-inkey", str(key), "-in", str(msg)]
    else:  # RSA PKCS#1 v1.5 or ECDSA (DER), over SHA-256
        cmd = [openssl, "dgst", "-sha256", "-sign", str(key), str(msg)]
    return subprocess.run(cmd, check=True, capture_output=True).stdout


def keyid(pub: Path) -> str:
    """DSSE's key ID: sha256 of the key's PKIX DER (go-securesystemslib SHA256KeyID)."""
    openssl = require_tool("openssl")
    der = subprocess.run([openssl, "pkey", "-pubin", "-in", str(pub), "-outform", "DER"],
                         check=True, capture_output=True).stdout  # fmt: skip
    import hashlib

    return hashlib.sha256(der).hexdigest()


def resign_dsse(src: Path, dest: Path, key: Path, pub: Path, kind: str) -> Path:
    """`src`'s (non-legacy) signatures as DSSE envelopes signed with `key`."""
    for sig in _without_signatures(src, dest):
        signature = _openssl_sign(key, kind, pae(DSSE_TYPE, sig.text), dest.parent)
        envelope = {
            "payloadType": DSSE_TYPE,
            "payload": base64.b64encode(sig.text).decode(),
            "signatures": [{"keyid": keyid(pub), "sig": base64.b64encode(signature).decode()}],
        }
        _replace(dest, sig, json.dumps(envelope).encode() + b"\n", "0" * 40)
    return dest


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def object_range(path: Path, object_id: int) -> tuple[int, int]:
    data = path.read_bytes()
    h = sf.SifHeader.parse(data[: sf.HEADER.size])
    for i in range(h.descriptors_total):
        off = h.descriptors_offset + i * sf.DESCRIPTOR.size
        d = sf.SifDescriptor.parse(data[off : off + sf.DESCRIPTOR.size])
        if d.used and d.id == object_id:
            return d.offset, d.size
    raise AssertionError(f"no object {object_id} in {path}")


def descriptor_offset(path: Path, object_id: int) -> int:
    data = path.read_bytes()
    h = sf.SifHeader.parse(data[: sf.HEADER.size])
    for i in range(h.descriptors_total):
        off = h.descriptors_offset + i * sf.DESCRIPTOR.size
        d = sf.SifDescriptor.parse(data[off : off + sf.DESCRIPTOR.size])
        if d.used and d.id == object_id:
            return off
    raise AssertionError(f"no descriptor {object_id} in {path}")


def home_with_keyring(home: Path, keyring: bytes) -> dict[str, str]:
    """An environment whose HOME holds an Apptainer keyring (`~/.apptainer/keys`)."""
    keys = home / ".apptainer" / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "pgp-public").write_bytes(keyring)
    return {**os.environ, "HOME": str(home)}
