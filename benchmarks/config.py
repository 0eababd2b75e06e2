"""The command line: which backends and sections, how long, how large."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.databases import BACKENDS

SECTIONS = ("operations", "langgraph", "events", "version", "waits", "concurrency", "rss")
PG_URL_VARIABLE = "GREENTIC_SESSION_BENCH_PG"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Config:
    backends: tuple[str, ...]
    sections: tuple[str, ...]
    seconds: float  # per side of a measurement, over all its rounds
    max_calls: int  # per side of a measurement
    event_sizes: tuple[int, ...]
    wait_sizes: tuple[int, ...]
    seed_seconds: float  # time box for filling one backend's growth stores
    seed_workers: int
    concurrency_seconds: float
    threads: tuple[int, ...]
    processes: int
    rss_sessions: int
    pg_url: str
    json_path: Path | None
    markdown_path: Path | None
    quick: bool


def bench_pg_url() -> str:
    """The PostgreSQL server of a benchmark run: GREENTIC_SESSION_BENCH_PG, else the default."""
    return os.environ.get(PG_URL_VARIABLE) or DEFAULT_PG_URL


def sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def names(text: str, known: Sequence[str], parser: argparse.ArgumentParser) -> tuple[str, ...]:
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(set(chosen) - set(known))
    if unknown or not chosen:
        parser.error(f"choose among {', '.join(known)}; got {text!r}")
    return chosen


def parse_config(argv: Sequence[str]) -> Config:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_store")
    add = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes and budgets: a smoke run (1-2 minutes)")
    add("--backends", default=",".join(BACKENDS), help="comma-separated: memory,sqlite,postgres")
    add("--sections", default=",".join(SECTIONS), help="comma-separated: " + ",".join(SECTIONS))
    add("--seconds", type=float, default=1.0, help="time per side of each measurement")
    add("--max-calls", type=int, default=20_000, help="call limit per side of a measurement")
    add("--events", default="1,100,10000", help="session lengths for get_session growth")
    add("--waits", default="100,10000,100000", help="other waits in the store, lookup growth")
    add("--seed-seconds", type=float, default=240.0, help="time box to fill one backend's stores")
    add("--seed-workers", type=int, default=4, help="processes filling PostgreSQL (SQLite: 2)")
    add("--concurrency-seconds", type=float, default=1.5, help="wall time per writer setup")
    add("--threads", default="1,4,8", help="writer thread counts (1 is the reference)")
    add("--processes", type=int, default=4, help="writer processes")
    add("--rss-sessions", type=int, default=100_000, help="live sessions for the RSS figure")
    add("--json", type=Path, default=None, help="write the figures here")
    add("--markdown", type=Path, default=None, help="write the report here")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    return Config(
        backends=names(args.backends, BACKENDS, parser),
        sections=names(args.sections, SECTIONS, parser),
        seconds=0.2 if quick else args.seconds,
        max_calls=200 if quick else args.max_calls,
        event_sizes=(1, 10, 100) if quick else sizes(args.events),
        wait_sizes=(10, 100, 300) if quick else sizes(args.waits),
        seed_seconds=30.0 if quick else args.seed_seconds,
        seed_workers=2 if quick else args.seed_workers,
        concurrency_seconds=0.5 if quick else args.concurrency_seconds,
        threads=(1, 2) if quick else sizes(args.threads),
        processes=2 if quick else args.processes,
        rss_sessions=2_000 if quick else args.rss_sessions,
        pg_url=bench_pg_url(),
        json_path=args.json,
        markdown_path=args.markdown,
        quick=quick,
    )
