"""`inspect` shows what `apptainer inspect` does: %test, the start script, the earlier
definitions an image keeps in /.singularity.d/bootstrap_history/; DSSE signers and
encrypted partitions in words. SIFs built in the test: mksquashfs packs a rootfs laid out
as apptainer lays it out, siftool writes the SIF (deffile and partition in group 1)."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

from layerscope.readers.sif import format as sf
from tests.cli.run import proc
from tests.conftest import FIXTURES, require_tool
from tests.readers.sif_expected import load_gen_sif
from tests.readers.sif_signing import object_range, openssl_key, resign_dsse, signatures

DEF = "Bootstrap: localimage\nFrom: base.sif\n\n%test\n    grep -q stage2 /etc/stage\n"
TEST = "#!/bin/sh\n\n    grep -q stage2 /etc/stage\n"
START = "#!/bin/sh\n\nexec /usr/sbin/nginx -g 'daemon off;'\n"
HISTORY = {
    "Singularity0": "Bootstrap: docker\nFrom: debian:12\n\n%post\n    echo stage0\n",
    "Singularity1": "Bootstrap: localimage\nFrom: stage0.sif\n\n%post\n    echo stage1\n",
    "Singularity10": "Bootstrap: localimage\nFrom: stage9.sif\n",
    "Singularity2": "Bootstrap: localimage\nFrom: stage1.sif\n",
}


def _sif(tmp_path: Path, test: str = TEST, history: dict[str, str] = HISTORY) -> Path:
    root = tmp_path / "rootfs"
    sd = root / ".singularity.d"
    (sd / "bootstrap_history").mkdir(parents=True)
    (sd / "env").mkdir()
    (root / "etc").mkdir()
    (root / "etc" / "stage").write_text("stage2\n")
    (sd / "Singularity").write_text(DEF)
    (sd / "test").write_text(test)
    (sd / "startscript").write_text(START)
    (sd / "runscript").write_text('#!/bin/sh\nexec /bin/sh "$@"\n')
    (sd / "labels.json").write_text(json.dumps({"org.example.stage": "2"}))
    for name, text in history.items():
        (sd / "bootstrap_history" / name).write_text(text)
    for name in ("test", "startscript", "runscript"):
        (sd / name).chmod(0o755)
    sqfs = tmp_path / "rootfs.sqfs"
    subprocess.run(
        [require_tool("mksquashfs"), str(root), str(sqfs), "-noappend", "-quiet", "-no-progress"],
        check=True,
        capture_output=True,
    )
    siftool = require_tool("siftool")
    sif = tmp_path / "stage2.sif"
    deffile = tmp_path / "stage2.def"
    deffile.write_text(DEF)
    for args in (
        ["new", str(sif)],
        ["add", str(sif), str(deffile), "--datatype", "1", "--groupid", "1"],
        ["add", str(sif), str(sqfs), "--datatype", "4", "--partfs", "1", "--parttype", "2",
         "--partarch", "2", "--groupid", "1"],
    ):  # fmt: skip
        subprocess.run([siftool, *args], check=True, capture_output=True)
    return sif


def test_test_startscript_and_earlier_definitions(tmp_path: Path) -> None:
    sif = _sif(tmp_path)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    r = proc("inspect", "--json", str(sif), env=env)
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["test"] == TEST and doc["startscript"] == START
    assert doc["definition"] == DEF
    # in build order: Singularity10 after Singularity2
    assert list(doc["bootstrap_history"]) == [
        "Singularity0", "Singularity1", "Singularity2", "Singularity10",
    ]  # fmt: skip
    assert doc["bootstrap_history"] == HISTORY
    text = proc("inspect", str(sif), env=env).out.decode()
    assert "\nTest\n" in text and "grep -q stage2 /etc/stage" in text.split("\nTest\n")[1]
    assert "\nStart script\n" in text and "nginx -g" in text.split("\nStart script\n")[1]
    titles = [ln for ln in text.splitlines() if ln.startswith("Earlier definition")]
    assert titles == [
        f"Earlier definition (/.singularity.d/bootstrap_history/{n})"
        for n in ("Singularity0", "Singularity1", "Singularity2", "Singularity10")
    ]
    after = text.split("bootstrap_history/Singularity0)\n")[1]
    assert after.splitlines()[:2] == ["  Bootstrap: docker", "  From: debian:12"]


def test_a_hostile_earlier_definition_name_is_shown_escaped(tmp_path: Path) -> None:
    # the file name is the image's: a title would otherwise set the terminal's title
    sif = _sif(tmp_path, history={"Singularity\x1b]0;owned\x07": "Bootstrap: scratch\n"})
    r = proc("inspect", str(sif), env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert r.code == 0, r.err
    assert b"\x1b" not in r.out and b"\x07" not in r.out
    assert b"bootstrap_history/Singularity\\x1b]0;owned\\x07)" in r.out


def test_images_without_them_say_nothing(tmp_path: Path) -> None:
    r = proc("inspect", "--json", str(FIXTURES / "sif" / "alpine-like-base.sif"),
             env={"XDG_CACHE_HOME": str(tmp_path)})  # fmt: skip
    doc = r.json()
    # apptainer's default start script: a bare "#!/bin/sh", kept in the JSON...
    assert (doc["test"], doc["startscript"], doc["bootstrap_history"]) == (None, "#!/bin/sh\n", {})
    text = proc("inspect", str(FIXTURES / "sif" / "alpine-like-base.sif"),
                env={"XDG_CACHE_HOME": str(tmp_path)}).out.decode()  # fmt: skip
    # ... and no section of its own in the text
    for title in ("Earlier definition", "\nTest\n", "\nStart script\n"):
        assert title not in text


def _drop_keyids(sif: Path) -> None:
    """Apptainer's DSSE envelopes carry no key ID (sylabs' signer leaves it empty)."""
    sig_id = signatures(sif)[0].id
    offset, size = object_range(sif, sig_id)
    data = bytearray(sif.read_bytes())
    env = json.loads(bytes(data[offset : offset + size]).rstrip(b"\0"))
    for s in env["signatures"]:
        s["keyid"] = ""
    new = json.dumps(env).encode()
    assert len(new) <= size
    data[offset : offset + size] = new + b"\n" + b" " * (size - len(new) - 1)
    sif.write_bytes(bytes(data))


@pytest.mark.parametrize("keyid", [True, False], ids=["with-keyid", "apptainer-no-keyid"])
def test_dsse_signer_is_named_never_none(tmp_path: Path, keyid: bool) -> None:
    key, pub = openssl_key(tmp_path, "ec")
    sif = resign_dsse(FIXTURES / "sif" / "alpine-like-base-signed.sif", tmp_path / "d.sif",
                      key, pub, "ec")  # fmt: skip
    if not keyid:
        _drop_keyids(sif)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    for keyring in ([], ["--keyring", str(pub)]):
        text = proc("inspect", *keyring, str(sif), env=env).out.decode()
        [line] = [ln for ln in text.splitlines() if ln.startswith("Signature:")]
        assert "None" not in line and "DSSE" in line, line
        [sig] = proc("inspect", "--json", *keyring, str(sif), env=env).json()["signatures"]
        assert sig["format"] == "dsse" and sig["entity"] is None  # DSSE: no fingerprint
        if keyring:
            assert sig["status"] == "valid" and sig["signer"], sig
            assert f"signer {sig['signer']}: valid" in line
        elif keyid:
            assert sig["status"] == "unknown signer" and f"signer {sig['signer']}" in line
        else:  # nothing names the signer until a key verifies it
            assert sig["signer"] is None and "signer not named: unknown signer" in line


def test_encrypted_partition_in_words(tmp_path: Path) -> None:
    g = load_gen_sif()
    out = tmp_path / "enc.sif"
    g.write_objects(
        str(out),
        [
            g.SifObject(
                sf.PARTITION,
                data=b"\x00" * 8192,
                extra=g.partition_extra(sf.FS_ENCRYPTED_SQUASHFS, sf.PART_PRIMSYS, "amd64"),
            ),
            g.SifObject(
                sf.CRYPTO_MESSAGE, data=b"key", raw_link=1, extra=struct.pack("<ii", 2, 0x200)
            ),
        ],
    )
    r = proc("inspect", str(out), env={"XDG_CACHE_HOME": str(tmp_path)})
    assert r.code == 0, r.err
    [line] = [ln for ln in r.out.decode().splitlines() if ln.startswith("Encrypted:")]
    assert line.split(":", 1)[1].strip() == (
        "partition 1 (Encrypted squashfs), key in object 2 (PEM/RSA-OAEP)"
    )
    assert "{" not in line and "[" not in line


def test_diff_shows_a_changed_test_section(tmp_path: Path) -> None:
    """Two stages whose %test differs: the diff's metadata says so, as for the runscript."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _sif(tmp_path / "a")
    b = _sif(tmp_path / "b", TEST.replace("stage2", "stage3"))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    r = proc("diff", "--json", str(a), str(b), env=env)
    assert r.code == 1, r.err
    meta = r.json()["metadata"]
    assert "startscript" not in meta and "runscript" not in meta
    assert "-    grep -q stage2 /etc/stage" in meta["test"].splitlines()
    assert "+    grep -q stage3 /etc/stage" in meta["test"].splitlines()
    text = proc("diff", "--summary", str(a), str(b), env=env).out.decode()
    assert "\nTest\n" in text and "+    grep -q stage3" in text.split("\nTest\n")[1]
