"""N asyncio tasks on one store, measured in rounds, with the loop's lag while they run.

Each task is seeded once with its own session (or thread). In each round every task warms
up with a few cycles, then waits at a barrier; when all are there the lag monitor starts
and every task runs cycles until the round's time has passed. A measurement's figures add
up its rounds (`Tally`): throughput is all cycles over the summed wall time of the rounds
(each round's wall is its longest task's, as for the writer threads of `concurrency.py`);
a cycle's latency is its await, waiting for a pooled connection and for the loop included:
what a request handler would see. The process's CPU time over the timed part gives the
client's CPU a cycle.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field
from uuid import uuid4

from benchmarks.async_workloads import NextCycle, Seed
from benchmarks.loop_lag import Lag, LagMonitor
from benchmarks.timing import Stats

WARMUP_CYCLES = 5
Found = list[tuple[list[int], float]]  # per task or thread: cycle times (ns), wall time (s)


@dataclass
class Tally:
    """A measurement's samples over its rounds."""

    cycles_ns: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    lateness_ns: list[int] = field(default_factory=list)
    cpu_s: float = 0.0  # this process's CPU time (every thread) while the rounds ran

    def add(self, found: Found, cpu_s: float) -> None:
        self.cycles_ns += [sample for timed, _ in found for sample in timed]
        self.wall_s += max(wall for _, wall in found)
        self.cpu_s += cpu_s

    def cpu_us_per_cycle(self) -> float:
        """The client's CPU a cycle: what bounds a loaded process, whatever the wall clock."""
        return self.cpu_s / len(self.cycles_ns) * 1e6 if self.cycles_ns else float("nan")

    def stats(self) -> Stats:
        return Stats.of_wall(self.cycles_ns, self.wall_s)

    def lag(self) -> Lag | None:
        return Lag.of(self.lateness_ns) if self.lateness_ns else None


async def seed_tasks(seed: Seed, tasks: int) -> list[NextCycle]:
    """A user (and session, or thread) of its own for each of `tasks` tasks."""
    run = uuid4().hex[:8]
    return [await seed(f"task-{run}-{i}") for i in range(tasks)]


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


async def tasks_round(cycles: list[NextCycle], seconds: float, tally: Tally) -> None:
    """One round: the tasks run at once for `seconds`, the lag monitor beside them."""
    barrier = asyncio.Barrier(len(cycles) + 1)

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
        cpu_before = time.process_time()
        async with LagMonitor() as monitor:
            found = await asyncio.gather(*running)
        cpu_s = time.process_time() - cpu_before
    finally:
        gc.unfreeze()
    tally.add(found, cpu_s)
    tally.lateness_ns += monitor.lateness_ns


async def idle_round(seconds: float, tally: Tally) -> None:
    """The loop with nothing on it but the monitor: the lag the machine alone causes."""
    async with LagMonitor() as monitor:
        await asyncio.sleep(seconds)
    tally.wall_s += seconds
    tally.lateness_ns += monitor.lateness_ns
