"""Scale: the audit tools (verify, rebuild, import, explain, export, history, sweep, erase,
archive) on large logs.

Run from the project root:

    python -m benchmarks.scale                          # 10k and 100k events, SQLite and PostgreSQL
    python -m benchmarks.scale --sizes 10k,100k,1m      # and a million (an hour or more)

For each size the realistic mix (benchmarks/scale_mix.py) runs once through `memory://`
stores with a stepping clock and is exported to JSON Lines, cached under `--cache` by size
and library version. Each backend then gets a fresh store per size (a new SQLite file, a
new PostgreSQL schema, dropped at the end) and each operation runs on it in a fresh process
(benchmarks/scale_operation.py), in this order: `import_events` of the export (which fills
the store), `verify`, `rebuild_projections`, `explain` (one scope), `history` (one
session), `find`, `export_events`, `sweep_expired` (it writes), `erase_session` (the probe's
session, then one of another user: each erasure's commit and SQLite's compaction timed
apart), `erase_user` (every session of the probe's user, one in 100), `verify_after_erase`
(verify through the redacted events), `archive` (every session ended before now: it
deletes), `verify_after_archive` (verify through the tombstones). Each
cell is the call's wall time and the process's peak RSS. An operation that raises or
passes `--timeout` is a "fails: <code>" cell with its time, not the end of the run; when
import fails, the store is filled through the public API instead (one transaction a write,
slow) and the notes say so.
The table is printed (progress goes to stderr) and written to `--markdown`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.bench_store import package_version, progress, revision
from benchmarks.config import DEFAULT_PG_URL, PG_URL_VARIABLE, names
from benchmarks.databases import Databases, databases, postgres_version
from benchmarks.report import table
from benchmarks.scale_mix import Export, Probe, cached_export, fill_store
from benchmarks.scale_operation import OPERATIONS
from greentic_session import SessionError

BACKENDS = ("sqlite", "postgres")
BACKEND_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
ROOT = Path(__file__).resolve().parents[1]  # where `python -m benchmarks.…` finds the package
DEFAULT_MARKDOWN = ROOT / "benchmarks" / "results" / "scale.md"
# Processes filling a store through the public API when import fails: PostgreSQL takes
# concurrent writers; SQLite has one write lock.
FILL_WORKERS = {"sqlite": 1, "postgres": 4}
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "greentic-session-scale"


@dataclass(frozen=True)
class ScaleConfig:
    sizes: tuple[int, ...]
    backends: tuple[str, ...]
    operations: tuple[str, ...]  # import_events always runs: it fills the store
    timeout_s: float  # per operation
    cache: Path
    markdown_path: Path | None
    pg_url: str


def size_of(text: str) -> int:
    """`10k` → 10,000; `1m` → 1,000,000; `200` → 200."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale > 1 else text
    return int(float(number) * scale)


def size_label(events: int) -> str:
    for unit, scale in (("m", 1_000_000), ("k", 1_000)):
        if events >= scale and events % scale == 0:
            return f"{events // scale}{unit}"
    return f"{events:,}"


def parse_config(argv: Sequence[str]) -> ScaleConfig:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    add = parser.add_argument
    add("--sizes", default="10k,100k", help="events per store, comma-separated: 10k,100k,1m")
    add("--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,postgres")
    add(
        "--operations",
        default=",".join(OPERATIONS),
        help="comma-separated, of " + ",".join(OPERATIONS) + " (import_events always runs)",
    )
    add("--timeout", type=float, default=900.0, help="seconds before an operation is stopped")
    add("--cache", type=Path, default=DEFAULT_CACHE, help="where the generated exports are kept")
    add("--markdown", type=Path, default=DEFAULT_MARKDOWN, help="write the table here")
    args = parser.parse_args(argv)
    try:
        sizes = tuple(size_of(part) for part in args.sizes.split(",") if part.strip())
    except ValueError:
        parser.error(f"sizes are counts such as 10k,100k,1m; got {args.sizes!r}")
    if not sizes or min(sizes) < 10:
        parser.error(f"sizes are counts of at least 10 events; got {args.sizes!r}")
    return ScaleConfig(
        sizes=sizes,
        backends=names(args.backends, BACKENDS, parser),
        operations=("import_events", *names(args.operations, tuple(OPERATIONS), parser)),
        timeout_s=args.timeout,
        cache=args.cache,
        markdown_path=args.markdown,
        pg_url=os.environ.get(PG_URL_VARIABLE) or DEFAULT_PG_URL,
    )


@dataclass(frozen=True)
class Measured:
    """One operation on one store: from the child's JSON line, or from how the child ended."""

    operation: str
    seconds: float
    peak_rss_mb: float | None = None
    error: str | None = None  # "code: message" when it failed
    result: object = None
    open_rss_mb: float | None = None  # peak before the call: interpreter, imports, open store

    @property
    def code(self) -> str:
        return "" if self.error is None else self.error.split(":", 1)[0]

    def cell(self) -> str:
        if self.error is not None:
            return f"fails: {self.code} after {duration(self.seconds)}"
        return f"{duration(self.seconds)}, {self.peak_rss_mb:,.0f} MB"


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds:,.0f} s"


def run_operation(operation: str, url: str, export: Export, timeout_s: float) -> Measured:
    """The operation in a fresh interpreter; a timeout or a crash becomes a failed cell."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.scale_operation",
        operation,
        url,
        str(export.path),
        json.dumps(asdict(export.probe)),
    ]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        elapsed = time.perf_counter() - started
        return Measured(operation, elapsed, error=f"timeout: stopped after {timeout_s:g} s")
    elapsed = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Measured(operation, elapsed, error=f"crashed: exit {done.returncode}: {last}")
    found = json.loads(lines[-1])
    return Measured(
        operation,
        found["seconds"],
        found["peak_rss_mb"],
        found["error"],
        found["result"],
        found["open_rss_mb"],
    )


@dataclass
class Column:
    """One backend at one size: its cells, and how its store was filled."""

    backend: str
    size: int  # as asked for; the mix may run a few events past it
    measured: dict[str, Measured] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{BACKEND_NAMES[self.backend]} {size_label(self.size)}"


def measure_store(
    backend: str, size: int, export: Export, dbs: Databases, config: ScaleConfig
) -> Column:
    column = Column(backend, size)
    url = dbs.new_url(backend, f"scale{export.events}")
    for operation in OPERATIONS:
        if operation not in config.operations:
            continue
        progress(f"{column.title}: {operation}")
        measured = run_operation(operation, url, export, config.timeout_s)
        column.measured[operation] = measured
        if measured.error is not None:
            column.notes.append(f"{column.title} `{operation}`: {shorten(measured.error)}")
        if operation == "import_events" and measured.error is not None:
            filled = fill_through_api(column, dbs, export)
            if filled is None:
                break
            url, probe = filled
            export = Export(export.path, export.events, export.sessions, probe)
    return column


def shorten(message: str, limit: int = 400) -> str:
    """An error message on one line, cut to `limit` characters (some quote whole statements)."""
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def fill_through_api(column: Column, dbs: Databases, export: Export) -> tuple[str, Probe] | None:
    """The mix written through the public API into a fresh store, for when import cannot fill
    one: its URL and probe, or None (noted) if that fails too."""
    url = dbs.new_url(column.backend, f"scale{export.events}api")
    progress(f"{column.title}: import failed, filling through the public API")
    started = time.perf_counter()
    try:
        probe = fill_store(url, export.events, FILL_WORKERS[column.backend])
    except SessionError as exc:
        column.notes.append(f"{column.title}: the public-API fill failed too: {shorten(str(exc))}")
        return None
    column.notes.append(
        f"{column.title}: import failed, so the other operations ran on a store filled "
        f"with the same mix through the public API ({time.perf_counter() - started:.0f} s)"
    )
    return url, probe


def header(config: ScaleConfig) -> str:
    versions = [
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
        f"eventsourcing {package_version('eventsourcing')}",
        f"psycopg {package_version('psycopg')}",
    ]
    if "postgres" in config.backends:
        versions.append(f"PostgreSQL {postgres_version(config.pg_url)}")
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{date}; commit {revision()}; {', '.join(versions)}; {os.cpu_count()} CPUs"


def cell(column: Column, operation: str) -> str:
    found = column.measured.get(operation)
    return "not run" if found is None else found.cell()


def returned_cell(column: Column, operation: str) -> str:
    found = column.measured.get(operation)
    if found is None or found.error is not None:
        return ""
    return json.dumps(found.result).replace("|", "\\|")


def render(command: str, config: ScaleConfig, columns: list[Column], notes: list[str]) -> str:
    head = ["operation", *(column.title for column in columns)]
    cells = [[f"`{name}`", *(cell(c, name) for c in columns)] for name in OPERATIONS]
    returned = [[f"`{name}`", *(returned_cell(c, name) for c in columns)] for name in OPERATIONS]
    lines = [
        *table("Wall time and peak RSS, each operation in a fresh process", head, cells, 1),
        *table("What each call returned", head, returned, 1),
    ]
    every_note = [*notes, *(note for column in columns for note in column.notes)]
    before = [m.open_rss_mb for c in columns for m in c.measured.values() if m.open_rss_mb]
    if before:
        every_note.insert(
            0,
            "Peak RSS is the whole process's (`VmHWM`); before the call (interpreter, "
            f"imports, open store) it was {min(before):,.0f}-{max(before):,.0f} MB.",
        )
    return "\n".join(
        [
            "# greentic-session scale benchmark: the audit tools on large logs",
            "",
            f"Reproduce: `{command}`",
            "",
            header(config),
            "",
            *lines,
            *(f"- {note}" for note in every_note),
        ]
    )


def run(config: ScaleConfig) -> tuple[list[Column], list[str]]:
    notes: list[str] = []
    columns: list[Column] = []
    exports: list[tuple[int, Export]] = []
    for events in config.sizes:
        progress(f"{size_label(events)}: the mix's export")
        started = time.perf_counter()
        export, cached = cached_export(config.cache, events)
        how = "from the cache" if cached else f"generated in {time.perf_counter() - started:.0f} s"
        notes.append(
            f"{size_label(events)}: {export.events:,} events of {export.sessions:,} sessions, "
            f"filled by `import_events` of an export of the mix run through `memory://` "
            f"({how}: `{export.path}`)"
        )
        exports.append((events, export))
    with databases(config.pg_url) as dbs:
        for backend in config.backends:
            columns += [measure_store(backend, n, export, dbs, config) for n, export in exports]
    return columns, notes


def main(argv: Sequence[str] | None = None) -> str:
    """Runs the benchmark, prints and saves the report; returns it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config = parse_config(argv)
    command = shlex.join(["python", "-m", "benchmarks.scale", *argv])
    print(f"Reproduce: {command}", file=sys.stderr)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    columns, notes = run(config)
    notes.append(
        f"Whole run: {time.perf_counter() - started:.0f} s; 1-minute load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (a shared 2-core machine: "
        "figures are noisy)."
    )
    report = render(command, config, columns, notes)
    print(report)
    if config.markdown_path is not None:
        config.markdown_path.parent.mkdir(parents=True, exist_ok=True)
        config.markdown_path.write_text(report + "\n")
    return report


if __name__ == "__main__":
    main()
