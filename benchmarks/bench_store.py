"""Throughput and latency of the session store against the cheapest way to do its job.

Run from the project root (with the `bench` extra for the LangGraph baseline):

    pip install -e ".[bench]"
    python -m benchmarks.bench_store --json benchmarks/results/latest.json \\
        --markdown benchmarks/results/latest.md

A full run takes 10-15 minutes on 2 cores, most of it filling the growth stores;
`--quick` is a smoke run of a minute or two; `--backends` and `--sections` choose parts
(`python -m benchmarks.bench_store --help`). The report is printed (progress goes to
stderr) and, with `--json`/`--markdown`, saved.

Sections, each on memory://, SQLite and PostgreSQL unless said otherwise:
- operations: every operation and the turn (route a reply, load, update, park again),
  ours beside the *floor* (benchmarks/floor_*.py: the same contract on plain tables
  without a log) and, on memory://, the plain eventsourcing in-memory application;
- langgraph (PostgreSQL): our update + get cycle against LangGraph's put + get_tuple;
- events: get_session by session length, beside eventsourcing's repository.get;
- version: read_session against history() (the version without and with a replay) on a
  session of 2,001 events, get_session and update_session beside them;
- waits: lookups by the number of other waits in the store. Our stores are filled
  through `register_wait` (several spawned processes on SQLite and PostgreSQL), never by
  writing their tables, and time-boxed by --seed-seconds: a store that did not reach its
  size is labelled with the count it reached. The floors are filled in bulk;
- concurrency (SQLite, PostgreSQL): 1/4/8 writer threads and 4 processes;
- rss (memory://): RSS growth of 100,000 live sessions, each store in a fresh process.
Every PostgreSQL store gets its own schema, dropped at the end of the run. The asyncio
section (ours async against LangGraph's async saver, with the event loop's lag) is a
command of its own: `python -m benchmarks.async_concurrency`.
"""

from __future__ import annotations

import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from benchmarks.concurrency import concurrency
from benchmarks.config import Config, parse_config
from benchmarks.databases import Databases, databases, postgres_version
from benchmarks.growth import event_growth, wait_growth
from benchmarks.langgraph_baseline import langgraph_section
from benchmarks.memory_rss import SUBJECTS, measure_rss
from benchmarks.operations import operations
from benchmarks.report import Results, render, to_json
from benchmarks.targets import targets
from benchmarks.timing import Row
from benchmarks.version_reads import version_reads

Section = Callable[[str, Databases, Config], list[Row]]
PER_BACKEND: dict[str, tuple[Section, tuple[str, ...]]] = {
    "operations": (operations, ("memory", "sqlite", "postgres")),
    "events": (event_growth, ("memory", "sqlite", "postgres")),
    "version": (version_reads, ("memory", "sqlite", "postgres")),
    "waits": (wait_growth, ("memory", "sqlite", "postgres")),
    "concurrency": (concurrency, ("sqlite", "postgres")),
}
_started = time.perf_counter()


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - _started:6.0f} s] {message}", file=sys.stderr, flush=True)


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def revision() -> str:
    """The commit measured, marked dirty when the library's folders have local changes."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    dirty = git("status", "--porcelain", "--", "adapters", "domain", "projections")
    return (git("rev-parse", "--short", "HEAD") or "unknown") + (" (dirty)" if dirty else "")


def header(config: Config) -> str:
    versions = [
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
        f"eventsourcing {package_version('eventsourcing')}",
        f"psycopg {package_version('psycopg')}",
        f"langgraph-checkpoint-postgres {package_version('langgraph-checkpoint-postgres')}",
    ]
    if "postgres" in config.backends:
        versions.append(f"PostgreSQL {postgres_version(config.pg_url)}")
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{date}; commit {revision()}; {', '.join(versions)}; {os.cpu_count()} CPUs, "
        "shared with other work: figures are noisy, ratios come from the same run."
    )


def langgraph(dbs: Databases, config: Config, results: Results) -> None:
    try:
        results.rows += langgraph_section(dbs, config)
    except ImportError as exc:
        results.notes.append(f"LangGraph baseline skipped ({exc}): pip install -e '.[bench]'")


def run(config: Config, results: Results) -> None:
    with databases(config.pg_url) as dbs:
        for backend in config.backends:
            for name, (section, backends) in PER_BACKEND.items():
                if name in config.sections and backend in backends:
                    progress(f"{backend}: {name}")
                    results.rows += section(backend, dbs, config)
            if backend == "postgres" and "langgraph" in config.sections:
                progress("postgres: langgraph")
                langgraph(dbs, config, results)
    if "memory" in config.backends and "rss" in config.sections:
        for subject in SUBJECTS:
            progress(f"memory: rss of {config.rss_sessions:,} sessions ({subject})")
            results.rss.append(measure_rss(subject, config.rss_sessions))


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    config = parse_config(argv)
    command = shlex.join(["python", "-m", "benchmarks.bench_store", *argv])
    print(f"Reproduce: {command}", file=sys.stderr)
    load_before = os.getloadavg()[0]
    results = Results(command, header(config), config)
    run(config, results)
    results.targets = targets(results.rows, results.rss, config)
    results.elapsed_s = time.perf_counter() - _started
    results.load = (load_before, os.getloadavg()[0])
    report = render(results)
    print(report)
    if config.markdown_path is not None:
        config.markdown_path.parent.mkdir(parents=True, exist_ok=True)
        config.markdown_path.write_text(report + "\n")
    if config.json_path is not None:
        import json

        config.json_path.parent.mkdir(parents=True, exist_ok=True)
        config.json_path.write_text(json.dumps(to_json(results), indent=2) + "\n")


if __name__ == "__main__":
    main()
