"""The asyncio section's measurements, prepared once and run in alternating rounds.

Every subject's stores stay open for the whole run, so each round visits every
measurement in turn and drifting machine load (2 shared cores) hits every subject alike;
each measurement gets its time split over the rounds. A round of the sync store's writer
threads blocks the loop while it runs: nothing else is on the loop then.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from benchmarks.async_report import SYNC, AsyncRow
from benchmarks.async_runner import Tally, seed_tasks, tasks_round
from benchmarks.async_workloads import WORKLOADS, Seed
from benchmarks.bench_store import progress
from benchmarks.concurrency import thread_results, writer_calls
from benchmarks.timing import Prepare
from greentic_session import SessionStore

Round = Callable[[float, Tally], Awaitable[None]]  # runs `seconds` more into the tally


@dataclass
class Measurement:
    subject: str
    workload: str
    size: int
    unit: str  # "tasks" or "threads"
    round: Round
    tally: Tally = field(default_factory=Tally)

    def row(self) -> AsyncRow:
        stats, lag, cpu = self.tally.stats(), self.tally.lag(), self.tally.cpu_us_per_cycle()
        return AsyncRow(self.subject, self.workload, self.size, self.unit, stats, lag, cpu)


async def task_plan(
    subject: str, seeds: dict[str, Seed], counts: Iterable[int]
) -> list[Measurement]:
    """Each workload at each task count, its tasks seeded now."""
    plan = []
    for workload, seed in seeds.items():
        for n in counts:
            cycles = await seed_tasks(seed, n)
            plan.append(Measurement(subject, workload, n, "tasks", partial(tasks_round, cycles)))
    return plan


def thread_plan(store: SessionStore, counts: Iterable[int]) -> list[Measurement]:
    """Each workload with each number of writer threads on the one sync store."""

    async def threads_round(prepares: list[Prepare], seconds: float, tally: Tally) -> None:
        cpu_before = time.process_time()  # the threads' warm-up calls are in it: a few
        found = thread_results(prepares, seconds)
        tally.add_threads(found, time.process_time() - cpu_before)

    plan = []
    for workload in WORKLOADS:
        for n in counts:
            prepares = [writer_calls(store, workload) for _ in range(n)]
            plan.append(Measurement(SYNC, workload, n, "threads", partial(threads_round, prepares)))
    return plan


async def run_plan(plan: list[Measurement], seconds: float, rounds: int) -> list[AsyncRow]:
    for turn in range(rounds):
        for m in plan:
            progress(f"round {turn + 1}/{rounds}: {m.subject}, {m.workload}, {m.size} {m.unit}")
            await m.round(seconds / rounds, m.tally)
    return [m.row() for m in plan]
