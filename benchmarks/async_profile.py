"""Where ours spends its time at the most tasks: cProfile over one run of each workload.

Self time (tottime) of every function, summed by where the function lives: psycopg (and
its pool), our code (the store's layers), pydantic (our models' validation), the event
loop (asyncio, selectors), the wait for the server (the loop's epoll), the harness
(benchmarks/) and the rest. cProfile adds its own cost to every Python call, so shares
of Python-heavy parts read high; benchmarks/async_spy.py samples the same run with py-spy,
at almost no cost to it.
"""

from __future__ import annotations

import cProfile
import pstats
from collections import Counter
from typing import Any

from benchmarks.async_runner import Tally, seed_tasks, tasks_round
from benchmarks.async_store import AsyncStore
from benchmarks.async_workloads import WORKLOADS

TOP = 12
WAIT = "waiting on the server (epoll)"
PLACES = (  # the first fragment found in a function's file (or name) decides its place
    ("epoll", WAIT),
    ("psycopg", "psycopg and its pool"),
    ("pydantic", "pydantic (our models)"),
    ("/domain/", "ours"),
    ("/projections/", "ours"),
    ("/adapters/", "ours"),
    ("eventsourcing", "eventsourcing (our log's mapper)"),
    ("json/", "json (encoding our events and rows)"),
    ("benchmarks/", "the benchmark's harness"),
    ("gc.collect", "the benchmark's harness"),
    ("asyncio", "the event loop (asyncio)"),
    ("selectors", "the event loop (asyncio)"),
)


def place(filename: str, function: str) -> str:
    where = f"{filename} {function}"
    for fragment, name in PLACES:
        if fragment in where:
            return name
    return "builtins and the rest" if filename == "~" else "other Python"


def shares(stats: dict[Any, Any]) -> Counter[str]:
    spent: Counter[str] = Counter()
    for (filename, _, function), (_, _, tottime, _, _) in stats.items():
        spent[place(filename, function)] += tottime
    return spent


def top_functions(stats: dict[Any, Any], total: float) -> list[str]:
    ranked = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:TOP]
    lines = []
    for (filename, line, function), (_, calls, tottime, _, _) in ranked:
        where = function if filename == "~" else f"{function} ({short(filename)}:{line})"
        lines.append(f"  - {tottime / total:5.1%} `{where}`, {calls:,} calls")
    return lines


def short(filename: str) -> str:
    parts = filename.split("/")
    return "/".join(parts[-3:])


async def profile_ours(store: AsyncStore, tasks: int, seconds: float) -> list[str]:
    """Lines for each workload: its cycle rate under the profiler, shares, top functions."""
    lines: list[str] = []
    for workload, seed_of in WORKLOADS.items():
        profiler = cProfile.Profile()
        profiler.enable()
        tally = Tally()
        await tasks_round(await seed_tasks(seed_of(store), tasks), seconds, tally)
        profiler.disable()
        stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        spent = shares(stats)
        total = sum(spent.values())
        parts = ", ".join(f"{name} {t / total:.0%}" for name, t in spent.most_common())
        waiting = spent.pop(WAIT, 0.0)
        busy = total - waiting
        busy_parts = ", ".join(f"{name} {t / busy:.0%}" for name, t in spent.most_common())
        parts += f"; of the {busy / total:.0%} not waiting: {busy_parts}"
        rate = f"{tally.stats().ops_per_s:,.0f} cycles/s under the profiler"
        lines += [f"- {workload}, {tasks} tasks ({rate}): {parts}. Top self time:"]
        lines += [*top_functions(stats, total), ""]
    return lines
