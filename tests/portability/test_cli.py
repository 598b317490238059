"""The portability report through the CLI: `inspect --portability` (text, JSON, the
--cpu/--kernel/--host-mpi answers and their exit status), `inspect --analyze`, the check
rules from --rule and from a .dive-ci file, and `diff --portability` of SIF stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.run import cli
from tests.portability.conftest import BIN
from tests.portability_support import add_files

Cap = pytest.CaptureFixture[bytes]


def test_text_report(capsysbinary: Cap, stages: list[Path]) -> None:
    r = cli(capsysbinary, "inspect", "--portability", "--no-cache", str(stages[2]))
    assert r.code == 0, r.err
    lines = r.out.decode().splitlines()
    assert lines[0] == "Architecture: amd64 (declared); ELF files: 3 amd64"
    assert f"x86-64 level: x86-64-v4, set by {BIN}/avx512f" in lines
    assert any(line.split() == ["x86-64-v3", f"{BIN}/v3", "decoded:", *line.split()[3:]]
               for line in lines)  # fmt: skip
    assert r.err == ""


def test_json_report_and_answers(capsysbinary: Cap, stages: list[Path]) -> None:
    args = ["inspect", "--portability", "--json", str(stages[2])]
    r = cli(capsysbinary, *args, "--cpu", "haswell", "--kernel", "5.14.0-362.el9.x86_64")
    assert r.code == 1  # an answer is "no"
    doc = r.json()
    assert doc["schema"] == "layerscope.portability/1"
    assert doc["image"] == {"source": str(stages[2]), "format": "sif"}
    assert doc["isa"]["level"] == "x86-64-v4" and doc["isa"]["level_number"] == 4
    assert doc["isa"]["set_by"] == [f"{BIN}/avx512f"]
    assert {f["path"]: f["level"] for f in doc["isa"]["files"]} == {
        f"{BIN}/avx512f": "x86-64-v4",
        f"{BIN}/v3": "x86-64-v3",
    }
    assert doc["answers"]["cpu"] == {
        "cpu": "haswell",
        "runs": False,
        "failing": [{"path": f"{BIN}/avx512f", "level": "x86-64-v4", "missing": ["AVX512F"]}],
        "dispatch": [],
        "unknown": [],
    }
    assert doc["answers"]["kernel"]["kernel"] == "5.14.0"
    assert doc["answers"]["kernel"]["ok"] is True
    assert isinstance(doc["read"]["bytes"], int)
    r = cli(capsysbinary, *args, "--cpu", "skylake-avx512")
    assert r.code == 0 and r.json()["answers"]["cpu"]["runs"] is True


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--cpu", "pentium", "unknown CPU 'pentium'"),
        ("--kernel", "new", "'new' is not a kernel version"),
        ("--host-mpi", "lam-7", "'lam-7' is not FAMILY-VERSION"),
    ],
)
def test_bad_questions_are_usage_errors(
    capsysbinary: Cap, stages: list[Path], option: str, value: str, says: str
) -> None:
    r = cli(capsysbinary, "inspect", "--portability", str(stages[0]), option, value)
    assert r.code == 2 and r.out == b""
    assert r.err.count("\n") == 1 and says in r.err and option in r.err


def test_analyze_has_the_section(capsysbinary: Cap, stages: list[Path]) -> None:
    r = cli(capsysbinary, "inspect", "--analyze", "--json", str(stages[1]))
    assert r.code == 0, r.err
    port = r.json()["portability"]
    assert "schema" not in port and port["isa"]["level"] == "x86-64-v3"
    r = cli(capsysbinary, "inspect", "--analyze", str(stages[1]))
    assert "Portability" in r.out.decode().splitlines()


def test_check_rules(capsysbinary: Cap, stages: list[Path], tmp_path: Path) -> None:
    final = str(stages[2])
    r = cli(capsysbinary, "check", final, "--rule", "max-isa=x86-64-v3", "--json")
    assert r.code == 1
    rule = next(x for x in r.json()["rules"] if x["key"] == "max-isa")
    assert (rule["status"], rule["value"], rule["threshold"]) == ("FAIL", 4, 3)
    assert rule["message"] == "x86-64 level x86-64-v4 > x86-64-v3"
    config = tmp_path / ".dive-ci"
    config.write_text(
        "rules:\n  max-isa: x86-64-v4\n  architecture: x86_64\n  min-kernel: 3.10.0\n"
        "  mpi: openmpi>=4.1\n  no-bundled-gpu-driver: true\n"
    )
    r = cli(capsysbinary, "check", final, "--ci-config", str(config), "--json")
    got = {x["key"]: (x["status"], x["message"]) for x in r.json()["rules"]}
    assert got["max-isa"] == ("PASS", "x86-64 level x86-64-v4 <= x86-64-v4")
    assert got["architecture"] == ("PASS", "architectures amd64 == amd64")
    assert got["no-bundled-gpu-driver"][0] == "PASS"
    # no libc in these stages, but each program carries the ABI note of glibc's crt files
    assert got["min-kernel"] == ("PASS", "kernel the image needs 3.2.0 <= 3.10.0")
    assert got["mpi"] == ("FAIL", "MPI none does not match openmpi>=4.1")
    assert r.code == 1
    config.write_text("rules:\n  mpi: lam>=7\n")
    r = cli(capsysbinary, "check", final, "--ci-config", str(config))
    assert r.code == 2 and "line 2" in r.err and "rules.mpi" in r.err and "'lam>=7'" in r.err


def test_diff_portability(capsysbinary: Cap, stages: list[Path]) -> None:
    a, b = str(stages[1]), str(stages[2])
    r = cli(capsysbinary, "diff", "--summary", "--portability", a, b)
    assert r.code == 1
    lines = r.out.decode().splitlines()
    assert f"B raised the x86-64 level to x86-64-v4 (was x86-64-v3): {BIN}/avx512f" in lines
    r = cli(capsysbinary, "diff", "--json", "--portability", a, b)
    (change,) = r.json()["portability"]
    assert (change["kind"], change["direction"], change["old"], change["new"]) == (
        "isa",
        "raised",
        "3",
        "4",
    )
    assert change["files"] == [f"{BIN}/avx512f"]
    r = cli(capsysbinary, "diff", "--json", a, b)
    assert "portability" not in r.json()  # only when asked: it reads every ELF file


def test_bad_and_hostile_elf_files(
    capsysbinary: Cap, programs: dict[str, Path], tmp_path: Path
) -> None:
    """A truncated ELF file is a warning and a line of the report, never an error; a
    name holding terminal escapes is shown escaped."""
    good = programs["v3"].read_bytes()
    add_files(tmp_path, {
        "/opt/truncated": good[:300],
        "/opt/\x1b]0;owned\x07evil.so": good,
    })  # fmt: skip
    r = cli(capsysbinary, "inspect", "--portability", str(tmp_path))
    assert r.code == 0
    text = r.out.decode()
    assert "\x1b" not in text and "\x07" not in text
    assert "/opt/\\x1b]0;owned\\x07evil.so" in text
    assert "/opt/truncated: " in text
    assert "1 ELF file(s) could not be read whole" in r.err
    r = cli(capsysbinary, "inspect", "--portability", "--json", str(tmp_path))
    doc = r.json()
    assert doc["isa"]["set_by"] == ["/opt/\x1b]0;owned\x07evil.so"]  # JSON stays exact
    assert [p.split(":")[0] for p in doc["problems"]] == ["/opt/truncated"]


def test_report_has_the_section(capsysbinary: Cap, stages: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    r = cli(capsysbinary, "report", "--no-cache", "-o", str(out), str(stages[2]))
    assert r.code == 0, r.err
    assert 'id="portability"' not in out.read_text()  # it reads every ELF file: asked for
    r = cli(capsysbinary, "report", "--portability", "-o", str(out), str(stages[2]))
    assert r.code == 0, r.err
    page = out.read_text()
    section = page[page.index('<section id="portability">') :]
    assert f"{BIN}/avx512f" in section and "x86-64-v4" in section
    # a portability rule turns it on, and the check result in the page says the same as check
    r = cli(capsysbinary, "report", "--rule", "max-isa=x86-64-v3", "-o", str(out), str(stages[2]))
    assert r.code == 0, r.err
    page = out.read_text()
    assert '<section id="portability">' in page and "x86-64 level x86-64-v4 &gt; x86-64-v3" in page
