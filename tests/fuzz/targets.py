"""One fuzz target per parser: a hypothesis strategy of cases and run(case, workdir).

run() does what the CLI does with an image: open it (load_image: reader + model), list
every entry the way `ls` and `ls --json` print it, and read every regular file's first
bytes the way `cat` does. Whatever escapes that is not a LayerscopeError is a finding.
Cases are written to `workdir` (a fresh directory per case) and saved from there.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from layerscope.cli import commands  # first: it registers inspect_cmd
from layerscope.engine.analysis import AnalysisOptions, analyze, ci_metrics
from layerscope.engine.inspect import inspect
from layerscope.engine.loading import load_image
from layerscope.model.entry import EntryKind
from layerscope.model.layers import apply_layer
from layerscope.model.tree import FileTree
from layerscope.present import jsonout
from layerscope.present.analysis import findings_doc, report_json
from layerscope.present.entries import ls_entries
from layerscope.present.inspect import inspect_doc, inspect_json
from layerscope.present.ls import ls_lines
from layerscope.readers import OpenOptions
from layerscope.readers.ext3.reader import Ext3FS
from layerscope.readers.registry import reader as registry_module
from layerscope.readers.registry.ref import RegistryRef
from tests.fuzz.elfseeds import elf_seeds
from tests.fuzz.jsonmut import LayoutCase, RegistryCase, layout_cases, registry_cases
from tests.fuzz.mutate import mutated
from tests.fuzz.seeds import ext3_seeds, sif_seeds, squashfs_seeds
from tests.fuzz.tarmut import LayerCase, layer_cases
from tests.fuzz.textcases import load_text_case, materialize_text, run_text, text_cases

assert commands.cli is not None
READ_LIMIT = 64 << 10  # bytes read per regular file, as a preview would
CHECK_READ_BUDGET = 4 << 20
OPTS = OpenOptions(use_cache=False)


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Any]
    run: Callable[[Any, Path], None]
    # write the case as the file(s) a user would point layerscope at; returns the ref
    materialize: Callable[[Any, Path], str]


@contextlib.contextmanager
def strict_stdout() -> Iterator[io.TextIOWrapper]:
    """sys.stdout as the CLI sets it up: UTF-8, undecodable names backslash-escaped."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    with contextlib.redirect_stdout(out):
        yield out


def exercise_tree(tree: FileTree, read: Callable[[int], Iterator[bytes]] | None) -> None:
    """List and read like `ls`, `ls --json` and `cat` would."""
    with strict_stdout() as out:
        out.writelines(line + "\n" for line in ls_lines(tree, tree.walk_paths()))
        entries = ls_entries(tree, tree.walk_paths(), tree.link_counts())
        jsonout.stream_json({"schema": "x"}, "entries", entries)
    if read is None:
        return
    for node, _ in tree.walk_paths():
        if tree.kind[node] == EntryKind.FILE:
            got = 0
            for chunk in read(node):
                got += len(chunk)
                if got >= READ_LIMIT:
                    break


def load_and_exercise(ref: str) -> None:
    """What `inspect`, `inspect --json`, `ls`, `ls --json`, `cat` and `check` do with `ref`
    (check's analyses with a small read budget: content reading is cat's part here)."""
    found = inspect(ref, OPTS)
    with strict_stdout() as out:
        out.writelines(line + "\n" for line in inspect_doc(found).plain())
        jsonout.dump_json(inspect_json(found))
    img = load_image(ref, OPTS)
    try:
        exercise_tree(img.tree, img.iter_content)
        report = analyze(img, AnalysisOptions(read_budget=CHECK_READ_BUDGET))
        report_json(report)
        list(findings_doc(report).plain())
        ci_metrics(report)
    finally:
        img.close()


# -- byte images -------------------------------------------------------------------------


def _write(name: str) -> Callable[[bytes, Path], str]:
    def materialize(data: bytes, work: Path) -> str:
        path = work / name
        path.write_bytes(data)
        return str(path)

    return materialize


def _run_ref(prefix: str, name: str) -> Callable[[bytes, Path], None]:
    write = _write(name)

    def run(data: bytes, work: Path) -> None:
        load_and_exercise(prefix + write(data, work))

    return run


def run_ext3(data: bytes, work: Path) -> None:
    path = _write("overlay.ext3")(data, work)
    with Ext3FS(path) as fs:
        _ = fs.label, fs.needs_recovery
        for root in ("/upper", "/"):
            tree = FileTree()
            with contextlib.suppress(_NotFound):
                apply_layer(tree, 0, fs.iter_entries(root), "overlayfs")

            def read(node: int, tree: FileTree = tree) -> Iterator[bytes]:
                return fs.read_content(tree.loc[node], tree.size[node])

            exercise_tree(tree, read)


def _not_found() -> type[Exception]:
    from layerscope.errors import EntryNotFoundError

    return EntryNotFoundError


_NotFound = _not_found()


# -- ELF files (the portability report) -----------------------------------------------------

ELF_PATHS = ("/opt/app/bin/prog", "/usr/lib/x86_64-linux-gnu/libc.so.6")


def materialize_elf(data: bytes, work: Path) -> str:
    """The ELF file as a program and as a libc.so.6 of a sandbox directory."""
    root = work / "root"
    for inner in ELF_PATHS:
        dest = root / inner.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        dest.chmod(0o755)
    return str(root)


def run_elf(data: bytes, work: Path) -> None:
    """What `inspect --portability` (text, JSON, every answer) does with an image holding
    the file; and the file read through a window smaller than it (head and tail only)."""
    from layerscope.engine.portability import portability
    from layerscope.model.portability.elf import read_elf
    from layerscope.model.portability.levels import parse_cpu
    from layerscope.model.portability.query import ask
    from layerscope.model.portability.stacks import parse_host_mpi
    from layerscope.model.portability.versions import SCANS
    from layerscope.model.portability.window import collect
    from layerscope.present.portability import portability_doc, portability_json

    img = load_image(materialize_elf(data, work), OPTS)
    try:
        report = portability(img)
    finally:
        img.close()
    answers = ask(report, parse_cpu("haswell"), "3.10.0", parse_host_mpi("openmpi-4.1.5"))
    with strict_stdout() as out:
        out.writelines(line + "\n" for line in portability_doc(report, answers).plain())
        jsonout.dump_json(portability_json(report, answers))
    read_elf(collect([data], len(data), max(len(data) // 3, 64)), True, tuple(SCANS))


# -- tar layers --------------------------------------------------------------------------


def materialize_layer(case: LayerCase, work: Path) -> str:
    suffix = {"plain": ".tar", "gzip": ".tar.gz", "zstd": ".tar.zst"}[case.compression]
    path = work / f"layer{suffix}"
    path.write_bytes(case.blob)
    return str(path)


def run_layer(case: LayerCase, work: Path) -> None:
    path = materialize_layer(case, work)
    # A plain tar is sniffed and indexed as an archive first (docker-archive? OCI?), then
    # read as a layer: both parsers see the damage.
    load_and_exercise(path)


# -- OCI layouts and archives ----------------------------------------------------------------


def materialize_layout(case: LayoutCase, work: Path) -> str:
    if case.kind == "docker":
        path = work / "archive.tar"
        path.write_bytes(dict(case.files)["archive.tar"])
        return f"docker-archive:{path}"
    root = work / "layout"
    for rel, data in case.files:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    return f"oci:{root}"


def run_layout(case: LayoutCase, work: Path) -> None:
    ref = materialize_layout(case, work)
    for tag in (None, "1.0") if case.kind == "oci" else (None,):
        with contextlib.suppress(_usage_error()):
            load_and_exercise(ref if tag is None else f"{ref}:{tag}")


def _usage_error() -> type[Exception]:
    from layerscope.errors import UsageError

    return UsageError


# -- registry manifests ----------------------------------------------------------------------


class FakeClient:
    """What RegistryClient offers open_registry, served from memory: HEAD gives the tag's
    digest, GETs return whatever bytes the case holds (checked by the real cache)."""

    def __init__(
        self,
        ref: RegistryRef,
        *,
        tls_verify: bool = True,
        credentials: object = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.ref = ref
        self.warnings = warnings if warnings is not None else []
        self.case: RegistryCase = FakeClient.current

    current: RegistryCase

    def head_manifest(self, reference: str) -> tuple[str | None, str]:
        return self.case.top_digest, "application/vnd.oci.image.manifest.v1+json"

    def get_manifest(self, reference: str) -> tuple[bytes, str]:
        return self._blob(reference), "application/vnd.oci.image.manifest.v1+json"

    def fetch_blob(self, digest: str, size: int, sink: Callable[[bytes], None]) -> None:
        sink(self._blob(digest))

    def _blob(self, digest: str) -> bytes:
        from layerscope.errors import RegistryError

        for d, data in self.case.blobs:
            if d == digest:
                return data
        raise RegistryError(f"registry {self.ref.host}: manifest unknown: {digest}")

    def close(self) -> None:
        pass


@contextlib.contextmanager
def fake_registry(case: RegistryCase) -> Iterator[None]:
    namespace = vars(registry_module)  # open_registry looks the class up there
    saved = namespace["RegistryClient"]
    FakeClient.current = case
    namespace["RegistryClient"] = FakeClient
    try:
        yield
    finally:
        namespace["RegistryClient"] = saved


def materialize_registry(case: RegistryCase, work: Path) -> str:
    """A registry case is kept as a tar of its blobs plus the tag's digest."""
    path = work / "registry-case.tar"
    with tarfile.open(path, "w") as tf:
        for name, data in [("top", case.top_digest.encode()), *case.blobs]:
            info = tarfile.TarInfo(name.replace(":", "_"))
            info.size = len(data)
            tf.addfile(info, _bytes_io(data))
    return str(path)


def _bytes_io(data: bytes) -> Any:
    return io.BytesIO(data)


def load_registry_case(path: Path) -> RegistryCase:
    with tarfile.open(path) as tf:
        members = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}  # type: ignore[union-attr]
    top = members.pop("top").decode()
    return RegistryCase(top, tuple((k.replace("_", ":", 1), v) for k, v in sorted(members.items())))


def run_registry(case: RegistryCase, work: Path) -> None:
    with fake_registry(case):
        load_and_exercise("docker://registry.invalid/layerscope/app:1.0")


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("sif", mutated(sif_seeds()), _run_ref("sif:", "image.sif"), _write("image.sif")),
        Target(
            "squashfs",
            mutated(squashfs_seeds()),
            _run_ref("squashfs:", "image.sqfs"),
            _write("image.sqfs"),
        ),
        Target("ext3", mutated(ext3_seeds()), run_ext3, _write("overlay.ext3")),
        Target("tar", layer_cases(), run_layer, materialize_layer),
        Target("oci-json", layout_cases(), run_layout, materialize_layout),
        Target("registry-manifest", registry_cases(), run_registry, materialize_registry),
        Target("text", text_cases(), run_text, materialize_text),
        Target("elf", mutated(elf_seeds()), run_elf, materialize_elf),
    )
}


# -- saved findings ---------------------------------------------------------------------------


def load_case(parser: str, path: Path) -> Any:
    """Rebuild the case a saved finding (fuzz/crashes, fixtures/fuzz) was made from."""
    if parser in ("sif", "squashfs", "ext3", "elf"):
        return path.read_bytes()
    if parser == "tar":
        how = {".gz": "gzip", ".zst": "zstd"}.get(path.suffix, "plain")
        return LayerCase(how, path.read_bytes())
    if parser == "oci-json":
        if path.is_dir():
            files = sorted(
                (p.relative_to(path).as_posix(), p.read_bytes())
                for p in path.rglob("*")
                if p.is_file()
            )
            return LayoutCase("oci", tuple(files))
        return LayoutCase("docker", (("archive.tar", path.read_bytes()),))
    if parser == "registry-manifest":
        return load_registry_case(path)
    if parser == "text":
        return load_text_case(path)
    raise ValueError(f"unknown parser {parser!r}")


def cli_ref(parser: str, path: Path) -> str | None:
    """How a user would name a saved finding on the command line (None: no CLI form)."""
    prefix = {"sif": "sif:", "squashfs": "squashfs:", "tar": ""}.get(parser)
    if prefix is not None:
        return prefix + str(path)
    if parser == "oci-json":
        return f"oci:{path}" if path.is_dir() else f"docker-archive:{path}"
    return None
