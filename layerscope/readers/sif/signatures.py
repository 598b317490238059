"""SIF signatures verified as `apptainer verify` (sylabs/sif pkg/integrity) verifies them.

What a Signature object covers (the SIF specification, as sylabs/sif v2 implements it):
- linked to an object group, a current signature (PGP cleartext or DSSE) signs a JSON
  list of digests: of the global header's launch script, magic, version and ID; and, for
  every object of the group, of its descriptor's integrity fields (data type, used flag,
  ID relative to the group's smallest, link, size, creation time, UID, GID, name, extra)
  and of its data. The objects listed must be exactly the group's (none added, none
  dropped); the descriptor's signer fingerprint must be the key that signed;
- a legacy signature (plaintext "SIFHASH:\\n<hex>", always PGP) signs one digest, with the
  hash the descriptor names, of the data of its object, or of its group's objects one
  after another in table order. It protects no header or descriptor field.

Each signature gets a status: "valid"; "invalid" with the reason (the data changed after
signing, the signature does not verify, the signer is not the one the descriptor names);
"unknown signer" when no key in the keyrings could have made it; or "unverified" when
Sequoia cannot decide what GnuPG and apptainer accept (a packet it does not parse, a
signature older than the key's self-signatures), with the data still checked against the
digests the signature carries: data that changed makes it "invalid" all the same.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from typing import Any

from layerscope.readers.sif import format as sf
from layerscope.readers.sif.envelopes import (
    INVALID,
    LEGACY_PREFIX,
    UNVERIFIED,
    VALID,
    Envelope,
    check_dsse,
    check_pgp,
    open_envelope,
)
from layerscope.readers.sif.keys import Keys

# DataType int32, Used bool, relative ID uint32, LinkedID uint32, Size, CreatedAt, UID, GID
_INTEGRITY = struct.Struct("<i?IIqqqq")
_HASHLIB = {
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
_DIGEST_ALGS = frozenset({"sha224", "sha256", "sha384", "sha512", "sha512_224", "sha512_256"})
CHANGED = "the data changed after signing"

ReadRange = Callable[[int, int], bytes]  # (offset, size) -> bytes
# (objects, hashlib name) -> hex digest of their data read one after another
HashData = Callable[[list[sf.SifDescriptor], str], str]
CHUNK = 1 << 20
MAX_SIGNATURE_BYTES = 1 << 20  # a signature object is a few KB


def header_integrity(h: sf.SifHeader) -> bytes:
    return h.launch_script + h.magic + h.version + h.id


def descriptor_integrity(d: sf.SifDescriptor, relative_id: int) -> bytes:
    fields = (d.data_type, d.used, relative_id, d.raw_link, d.size, d.created_at, d.uid, d.gid)
    return _INTEGRITY.pack(*fields) + d.name_raw + d.extra


def verify_signatures(
    header: sf.SifHeader,
    used: list[sf.SifDescriptor],
    read: ReadRange,
    bad: set[int],
    keys: Keys,
    entries: list[dict[str, Any]],
) -> None:
    """Fill each signature entry (ImageMeta.signatures, by descriptor id) with its format,
    the objects it signs, the signer, the status and the reason. `read` reads the file;
    `bad` are the objects whose bytes lie outside it (they match no digest)."""
    by_id = {d.id: d for d in used}

    def hash_data(objects: list[sf.SifDescriptor], alg: str) -> str:
        h = hashlib.new(alg)
        for o in objects:
            if o.id in bad:
                return ""
            pos, end = o.offset, o.offset + o.size
            while pos < end:
                chunk = read(pos, min(CHUNK, end - pos))
                if not chunk:
                    return ""
                h.update(chunk)
                pos += len(chunk)
        return h.hexdigest()

    for entry in entries:
        d = by_id.get(entry.get("id", -1))
        if d is None or d.data_type != sf.SIGNATURE:
            continue
        raw = read(d.offset, d.size) if 0 <= d.size <= MAX_SIGNATURE_BYTES else b""
        env = open_envelope(b"" if d.id in bad else raw)
        targets = _targets(d, used)
        entry["format"] = env.format
        entry["signed_objects"] = [o.id for o in targets]
        status, signer, reason = _verify_one(header, d, env, targets, hash_data, keys)
        entry.update(status=status, signer=signer, reason=reason)


def _targets(sig: sf.SifDescriptor, used: list[sf.SifDescriptor]) -> list[sf.SifDescriptor]:
    link = sig.link
    if link is None:
        return []
    lid, is_group = link
    if is_group:
        return [o for o in used if o.group == lid and o.data_type != sf.SIGNATURE]
    return [o for o in used if o.id == lid]


def _verify_one(
    header: sf.SifHeader,
    d: sf.SifDescriptor,
    env: Envelope,
    targets: list[sf.SifDescriptor],
    hash_data: HashData,
    keys: Keys,
) -> tuple[str, str | None, str | None]:
    hash_name, entity = d.signature()
    if env.format == "unknown":
        return INVALID, entity, "not a PGP cleartext signature or a DSSE envelope"
    if not targets:
        return INVALID, entity, "linked to no object or group in this image"
    if env.format == "dsse":
        status, signer, reason, text = check_dsse(env, keys, hash_name)
    else:
        status, signer, reason, text = check_pgp(env, keys)
        if status == VALID and entity is not None and signer != entity:
            return INVALID, signer, f"the descriptor names signer {entity}, not the key that signed"
    if status not in (VALID, UNVERIFIED) or text is None:
        return status, signer or entity, reason
    if env.format == "pgp-cleartext-legacy":
        problem = _legacy_mismatch(text, hash_name, targets, hash_data)
    else:
        problem = _metadata_mismatch(text, header, d, targets, hash_data)
    if problem is not None:
        return INVALID, signer or entity, problem
    if status == UNVERIFIED:
        return UNVERIFIED, signer or entity, f"{reason}; the data matches the digests it signs"
    return VALID, signer, None


def _legacy_mismatch(
    text: bytes, hash_name: str | None, targets: list[sf.SifDescriptor], hash_data: HashData
) -> str | None:
    alg = _HASHLIB.get(hash_name or "")
    if alg is None:
        return f"legacy signature with an unsupported hash ({hash_name})"
    want = text[len(LEGACY_PREFIX) :].strip().decode("ascii", "replace").lower()
    if hash_data(targets, alg) != want:
        ids = ", ".join(str(o.id) for o in targets)
        return f"{CHANGED} (the data of object(s) {ids})"
    return None


def _metadata_mismatch(
    text: bytes,
    header: sf.SifHeader,
    sig: sf.SifDescriptor,
    targets: list[sf.SifDescriptor],
    hash_data: HashData,
) -> str | None:
    try:
        doc = json.loads(text)
        head_digest = doc["header"]["digest"]
        objects = doc["objects"]
        assert isinstance(objects, list)
    except (ValueError, KeyError, TypeError, AssertionError, RecursionError):
        return "the signed text is not SIF image metadata"
    link = sig.link
    group_ids = [o.id for o in targets]
    min_id = min(group_ids)
    by_id = {o.id: o for o in targets}
    listed: dict[int, dict[str, Any]] = {}
    for om in objects:
        if not isinstance(om, dict) or not isinstance(om.get("relativeId"), int):
            return "the signed text is not SIF image metadata"
        listed[min_id + om["relativeId"]] = om
    if link is not None and link[1] and set(listed) != set(group_ids):
        added = sorted(set(group_ids) - set(listed))
        gone = sorted(set(listed) - set(group_ids))
        what = "; ".join(
            s
            for s in (
                f"object(s) {', '.join(map(str, added))} not signed" if added else "",
                f"signed object(s) {', '.join(map(str, gone))} missing" if gone else "",
            )
            if s
        )
        return f"{CHANGED} ({what})"
    if not _matches(head_digest, _of_bytes(header_integrity(header))):
        return f"{CHANGED} (the SIF header)"
    for oid, om in sorted(listed.items()):
        o = by_id.get(oid)
        if o is None:
            continue
        if not _matches(
            om.get("descriptorDigest"), _of_bytes(descriptor_integrity(o, oid - min_id))
        ):
            return f"{CHANGED} (object {oid}'s descriptor)"
        if not _matches(om.get("objectDigest"), _of_data(hash_data, o)):
            return f"{CHANGED} (object {oid}'s data)"
    return None


def _of_bytes(data: bytes) -> Callable[[str], str]:
    return lambda alg: hashlib.new(alg, data).hexdigest()


def _of_data(hash_data: HashData, o: sf.SifDescriptor) -> Callable[[str], str]:
    return lambda alg: hash_data([o], alg)


def _split(digest: object) -> tuple[str, str] | None:
    if not isinstance(digest, str) or ":" not in digest:
        return None
    alg, _, value = digest.partition(":")
    return (alg, value.lower()) if alg in _DIGEST_ALGS else None


def _matches(digest: object, hex_of: Callable[[str], str]) -> bool:
    """Whether an "alg:hex" digest of the signed text is what hex_of(alg) computes now."""
    parts = _split(digest)
    return parts is not None and hex_of(parts[0]) == parts[1]
