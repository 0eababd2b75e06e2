"""N asyncio tasks on one store for the same wall time, with the loop's lag while they run.

Each task seeds its own session (or thread), warms up with a few cycles, then waits at a
barrier; when all are there the lag monitor starts and every task runs cycles until its
`seconds` have passed. Throughput is all cycles over the longest task's loop (as for the
writer threads of `concurrency.py`); a cycle's latency is its await, waiting for a pooled
connection and for the loop included: what a request handler would see.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass
from uuid import uuid4

from benchmarks.async_workloads import NextCycle, Seed
from benchmarks.loop_lag import Lag, LagMonitor
from benchmarks.timing import Stats

WARMUP_CYCLES = 5


@dataclass(frozen=True)
class Measured:
    stats: Stats
    lag: Lag


async def cycle_until(next_cycle: NextCycle, seconds: float) -> tuple[list[int], float]:
    """Cycles until `seconds` have passed: each cycle's time, and the loop's wall time."""
    started = time.perf_counter()
    deadline, samples = started + seconds, []
    while time.perf_counter() < deadline:
        cycle = next_cycle()
        before = time.perf_counter_ns()
        await cycle()
        samples.append(time.perf_counter_ns() - before)
    return samples, time.perf_counter() - started


async def run_tasks(seed: Seed, tasks: int, seconds: float) -> Measured:
    """`tasks` concurrent tasks, each on a user (and session) of its own."""
    run = uuid4().hex[:8]
    cycles = [await seed(f"task-{run}-{i}") for i in range(tasks)]
    barrier = asyncio.Barrier(tasks + 1)

    async def task(next_cycle: NextCycle) -> tuple[list[int], float]:
        for _ in range(WARMUP_CYCLES):
            await next_cycle()()
        await barrier.wait()
        return await cycle_until(next_cycle, seconds)

    running = [asyncio.create_task(task(next_cycle)) for next_cycle in cycles]
    gc.collect()
    gc.freeze()  # the seeded inputs and the harness stay out of the collector's view
    try:
        await barrier.wait()
        async with LagMonitor() as monitor:
            found = await asyncio.gather(*running)
    finally:
        gc.unfreeze()
    samples = [sample for timed, _ in found for sample in timed]
    return Measured(Stats.of_wall(samples, max(wall for _, wall in found)), monitor.lag())
