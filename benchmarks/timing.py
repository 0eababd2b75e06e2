"""Timing: calls prepared untimed, each timed alone, sides measured in alternating rounds.

A measurement stops when its timed calls add up to the time budget or reach the call
limit. ops/s of a series is calls divided by the summed call time; of concurrent writers
it is calls divided by wall time (`Stats.of_wall`). Objects that exist when a measurement
starts (stores, seeded rows, the harness) are frozen out of the garbage collector's view
(`gc.freeze`), so a full collection costs what the calls allocate, not what the set-up did.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

Call = Callable[[], object]
Prepare = Callable[[int], list[Call]]
K = TypeVar("K", bound=Hashable)

WARMUP_CALLS = 20
WARMUP_SHARE = 0.1  # warm-up stops early once it took this share of a round's budget
BATCH = 100
ROUNDS = 4


@dataclass(frozen=True)
class Row:
    """One measured figure: who (`subject`) did what, where, in which variant."""

    section: str  # operations, langgraph, event_growth, wait_growth, concurrency
    backend: str
    operation: str
    subject: str  # ours, floor, eventsourcing, langgraph
    variant: str  # e.g. "10,000 events", "4 threads"; "" when there is one
    stats: Stats
    size: int = 0  # the variant's number: events, waits, writers


@dataclass(frozen=True)
class Stats:
    calls: int
    ops_per_s: float
    p50_us: float
    p99_us: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Stats:
        return cls.of_wall(samples_ns, sum(samples_ns) / 1e9)

    @classmethod
    def of_wall(cls, samples_ns: list[int], wall_s: float) -> Stats:
        if len(samples_ns) < 2:
            only = samples_ns[0] / 1e3 if samples_ns else float("nan")
            return cls(len(samples_ns), len(samples_ns) / wall_s if wall_s else 0.0, only, only)
        cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
        return cls(len(samples_ns), len(samples_ns) / wall_s, cuts[49] / 1e3, cuts[98] / 1e3)


def cycle_calls(calls: list[Call]) -> Prepare:
    """Prepared once, reused in turn: for calls that leave the store as it was."""
    turn = itertools.cycle(calls)
    return lambda n: [next(turn) for _ in range(n)]


def measure_sides(
    sides: Mapping[K, Prepare], seconds: float, max_calls: int, rounds: int = ROUNDS
) -> dict[K, Stats]:
    """Each side gets `seconds` and `max_calls` in all, split over alternating rounds, so
    drifting machine load hits every side alike."""
    per_round_s, per_round_calls = seconds / rounds, max(max_calls // rounds, 1)
    samples: dict[K, list[int]] = {name: [] for name in sides}
    gc.collect()
    gc.freeze()
    try:
        for _ in range(rounds):
            for name, prepare in sides.items():
                samples[name] += sample(prepare, per_round_s, per_round_calls)
    finally:
        gc.unfreeze()
    return {name: Stats.of(found) for name, found in samples.items()}


def sample(prepare: Prepare, seconds: float, max_calls: int) -> list[int]:
    """Times prepared calls one by one until the budget or the call limit is reached."""
    warm_up(prepare, seconds * WARMUP_SHARE)
    gc.collect()
    left_ns = int(seconds * 1e9)
    samples: list[int] = []
    while len(samples) < max_calls and left_ns > 0:
        timed = time_calls(prepare(min(BATCH, max_calls - len(samples))), left_ns)
        samples += timed
        left_ns -= sum(timed)
    return samples


def warm_up(prepare: Prepare, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    for call in prepare(WARMUP_CALLS):
        call()
        if time.perf_counter() > deadline:
            return


def time_calls(calls: list[Call], budget_ns: int) -> list[int]:
    samples: list[int] = []
    spent = 0
    for call in calls:
        started = time.perf_counter_ns()
        call()
        elapsed = time.perf_counter_ns() - started
        samples.append(elapsed)
        spent += elapsed
        if spent >= budget_ns:
            break
    return samples
