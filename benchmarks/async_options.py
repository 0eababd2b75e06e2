"""The asyncio section's command line: how long, how many tasks, which subjects, which loop."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module

from benchmarks.async_report import SUBJECTS
from benchmarks.config import names, sizes


@dataclass(frozen=True)
class Options:
    seconds: float
    rounds: int
    tasks: tuple[int, ...]
    threads: tuple[int, ...]
    pool_size: int
    profile_seconds: float
    subjects: tuple[str, ...]
    loop: str
    markdown: str | None


def parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.async_concurrency")
    add = parser.add_argument
    add("--seconds", type=float, default=5.0, help="wall time of each measurement")
    add("--tasks", default="1,10,100", help="concurrent asyncio tasks (the last is the target's)")
    add("--threads", default="1,8", help="writer threads of the sync store (1 is the reference)")
    add("--rounds", type=int, default=4, help="rounds the time of each measurement is split in")
    add("--pool-size", type=int, default=10, help="connections of ours and LangGraph's pool")
    add("--profile-seconds", type=float, default=0.0, help="profile ours at the most tasks")
    add("--subjects", default=",".join(SUBJECTS), help="comma-separated: " + ",".join(SUBJECTS))
    add("--loop", choices=("asyncio", "uvloop"), default="asyncio", help="the event loop")
    add("--markdown", default=None, help="write the report here")
    args = parser.parse_args(argv)
    return Options(
        args.seconds,
        args.rounds,
        sizes(args.tasks),
        sizes(args.threads),
        args.pool_size,
        args.profile_seconds,
        names(args.subjects, SUBJECTS, parser),
        args.loop,
        args.markdown,
    )


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """asyncio's own loop, or uvloop's (`pip install uvloop`), a loop written in C."""
    if name == "asyncio":
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = import_module(name).new_event_loop
    return factory
