"""Long fuzzing runs: one parser, for a given time, crashing inputs saved.

    python fuzz/run.py --parser squashfs --seconds 600
    python fuzz/run.py --parser all --seconds 300          # each parser in turn
    python fuzz/run.py --parser tar --engine hypothesis    # no coverage guidance

Parsers: sif, squashfs, ext3, tar, oci-json, registry-manifest (tests/fuzz/targets.py),
and `text`: random names, link targets, labels, history and definition files through every
text command of the CLI (tests/fuzz/textcases.py), where a finding is a raw control byte
reaching the terminal.
The cases are the ones the test suite's properties use (tests/fuzz: real fixture bytes,
mutated where their metadata lives); this script only runs far more of them:

  atheris     (default when installed) libFuzzer's coverage-guided search drives the
              hypothesis strategies through `fuzz_one_input`; layerscope's modules are
              instrumented, so inputs that reach new branches are kept and mutated further.
  hypothesis  random buffers through the same strategies (no guidance, no extra package).

A finding is an exception that is not a LayerscopeError, a case slower than 2 s, or one
that grows the process by more than 200 MiB (tests/fuzz/check.py). Each is saved under
fuzz/crashes/<parser>/ as the file(s) a user would give layerscope (plus a .txt with the
traceback), at most 3 per distinct signature (exception type + raising line). Progress goes
to stderr every 30 s; the last line is a summary: inputs tried, cases run, findings.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PARSERS = ("sif", "squashfs", "ext3", "tar", "oci-json", "registry-manifest", "text", "elf")
HANG_SECONDS = 20  # a case still running after this is stopped and saved as a hang
KEEP_PER_SIGNATURE = 3


class Hang(BaseException):
    """Raised by the alarm inside a case that runs far too long."""


class Run:
    def __init__(self, parser: str, seconds: float, crashes: Path) -> None:
        from tests.fuzz.check import run_case
        from tests.fuzz.targets import TARGETS

        self.target = TARGETS[parser]
        self.run_case = run_case
        self.parser = parser
        self.deadline = time.monotonic() + seconds
        self.crashes = crashes / parser
        self.inputs = 0
        self.cases = 0
        self.kinds: Counter[str] = Counter()
        self.signatures: Counter[str] = Counter()
        self.started = time.monotonic()
        self.last_report = self.started
        self.scratch = Path(tempfile.mkdtemp(prefix=f"layerscope-fuzz-{parser}-", dir=_shm()))

    def probe(self, case: Any) -> None:
        self.cases += 1
        signal.alarm(HANG_SECONDS)
        try:
            outcome = self.run_case(self.target, case, self.scratch)
        except Hang:
            from tests.fuzz.check import Outcome

            outcome = Outcome("hang", f"still running after {HANG_SECONDS} s", HANG_SECONDS, 0)
        finally:
            signal.alarm(0)
        self.kinds[outcome.kind] += 1
        if outcome.bad or outcome.kind == "hang":
            sig = outcome.signature()
            self.signatures[sig] += 1
            if self.signatures[sig] <= KEEP_PER_SIGNATURE:
                self.save(case, sig, outcome.detail)

    def save(self, case: Any, sig: str, detail: str) -> None:
        self.crashes.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.scratch))
        self.target.materialize(case, tmp)
        blob = b"".join(p.read_bytes() for p in sorted(tmp.rglob("*")) if p.is_file())
        name = hashlib.sha256(blob).hexdigest()[:16]
        for item in tmp.iterdir():
            dest = self.crashes / f"{name}-{item.name}"
            if not dest.exists():
                shutil.move(str(item), dest)
        (self.crashes / f"{name}.txt").write_text(f"{sig}\n\n{detail}\n")
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"[{self.parser}] finding saved: {name} ({sig})", file=sys.stderr, flush=True)

    def tick(self) -> bool:
        """Count one input; report now and then; False when the time is up."""
        self.inputs += 1
        now = time.monotonic()
        if now - self.last_report >= 30:
            self.last_report = now
            print(self.line("progress"), file=sys.stderr, flush=True)
        return now < self.deadline

    def line(self, what: str) -> str:
        elapsed = time.monotonic() - self.started
        bad = sum(self.signatures.values())
        return (
            f"[{self.parser}] {what}: {self.inputs} inputs, {self.cases} cases run "
            f"({self.cases / max(elapsed, 1e-9):.0f}/s), {bad} findings "
            f"({len(self.signatures)} distinct), outcomes {dict(self.kinds)}, {elapsed:.0f} s"
        )

    def finish(self) -> None:
        print(self.line("done"), flush=True)
        for sig, n in self.signatures.most_common():
            print(f"  {n:6d}  {sig}", flush=True)
        shutil.rmtree(self.scratch, ignore_errors=True)


def _shm() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _alarm(_sig: int, _frame: FrameType | None) -> None:
    raise Hang


def _prober(run: Run) -> Any:
    from hypothesis import HealthCheck, given, settings

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=run.target.strategy)
    def probe(case: Any) -> None:
        run.probe(case)

    return probe.hypothesis.fuzz_one_input  # type: ignore[attr-defined]


def fuzz_hypothesis(run: Run) -> None:
    fuzz_one = _prober(run)
    while run.tick():
        fuzz_one(os.urandom(8192))
    run.finish()


def fuzz_atheris(run: Run, corpus: Path) -> None:
    atheris = _atheris()
    fuzz_one = _prober(run)

    def one_input(data: bytes) -> None:
        if not run.tick():
            run.finish()
            os._exit(0)  # libFuzzer never returns; our summary is already printed
        fuzz_one(data)

    corpus.mkdir(parents=True, exist_ok=True)
    args = [
        sys.argv[0],
        str(corpus),
        "-max_len=8192",
        "-len_control=0",
        "-rss_limit_mb=4096",
        f"-timeout={HANG_SECONDS * 3}",
        f"-artifact_prefix={run.crashes}/libfuzzer-",
        "-print_final_stats=0",
        "-close_fd_mask=0",
    ]
    run.crashes.mkdir(parents=True, exist_ok=True)
    atheris.Setup(args, one_input)
    atheris.Fuzz()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parser", required=True, choices=(*PARSERS, "all"))
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--engine", choices=("atheris", "hypothesis"), default=None)
    ap.add_argument("--crashes", type=Path, default=ROOT / "fuzz" / "crashes")
    ap.add_argument("--corpus", type=Path, default=None, help="libFuzzer corpus directory")
    args = ap.parse_args()
    parsers = PARSERS if args.parser == "all" else (args.parser,)
    if len(parsers) > 1:  # libFuzzer owns its process: one child per parser
        import subprocess

        for p in parsers:
            cmd = [sys.executable, __file__, "--parser", p, "--seconds", str(args.seconds)]
            if args.engine:
                cmd += ["--engine", args.engine]
            subprocess.run([*cmd, "--crashes", str(args.crashes)], check=False)
        return
    engine = args.engine or ("atheris" if _has_atheris() else "hypothesis")
    signal.signal(signal.SIGALRM, _alarm)
    if engine == "atheris":
        with _atheris().instrument_imports(include=["layerscope"]):
            _import_all()
        run = Run(parsers[0], args.seconds, args.crashes)
        corpus = args.corpus or Path(tempfile.gettempdir()) / "layerscope-fuzz-corpus" / parsers[0]
        fuzz_atheris(run, corpus)
    else:
        fuzz_hypothesis(Run(parsers[0], args.seconds, args.crashes))


def _import_all() -> None:
    """Import every layerscope module now, so all are instrumented (readers are otherwise
    imported lazily, after instrumentation would be over). The Textual UI is left out."""
    import importlib
    import pkgutil

    import layerscope
    import layerscope.cli.commands  # first: it registers the other commands' modules

    for mod in pkgutil.walk_packages(layerscope.__path__, "layerscope."):
        if not mod.name.startswith("layerscope.ui"):
            importlib.import_module(mod.name)


def _atheris() -> Any:
    import atheris  # type: ignore[import-untyped]

    return atheris


def _has_atheris() -> bool:
    import importlib.util

    return importlib.util.find_spec("atheris") is not None


if __name__ == "__main__":
    main()
