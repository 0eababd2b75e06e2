"""N asyncio tasks on one store, measured in rounds, with the loop's lag while they run.

Each task is seeded once with its own session (or thread). In each round every task warms
up with a few cycles, then waits at a barrier; when all are there the lag monitor starts
and every task runs cycles until the round's time has passed. A measurement's figures add
up its rounds (`Tally`): throughput is the cycles that ended inside their round's window
over the windows' summed length; a cycle's latency is its await, waiting for a pooled
connection and for the loop included: what a request handler would see. The process's
CPU time over the timed part gives the client's CPU a cycle.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field, replace
from uuid import uuid4

from benchmarks.async_workloads import NextCycle, Seed
from benchmarks.loop_lag import Lag, LagMonitor
from benchmarks.timing import Stats

WARMUP_CYCLES = 5
Found = list[tuple[list[int], float]]  # per thread: call times (ns), wall time (s)


@dataclass
class Tally:
    """A measurement's samples over its rounds."""

    cycles_ns: list[int] = field(default_factory=list)  # every timed cycle: the latencies
    counted: int = 0  # the cycles that ended inside their round's window: the rate
    wall_s: float = 0.0  # the windows, summed
    lateness_ns: list[int] = field(default_factory=list)
    cpu_s: float = 0.0  # this process's CPU time (every thread) while the rounds ran

    def add(self, timed: list[int], counted: int, wall_s: float, cpu_s: float) -> None:
        self.cycles_ns += timed
        self.counted += counted
        self.wall_s += wall_s
        self.cpu_s += cpu_s

    def add_threads(self, found: Found, cpu_s: float) -> None:
        """Writer threads' loops (`concurrency.thread_results`): all calls over the longest."""
        timed = [sample for samples, _ in found for sample in samples]
        self.add(timed, len(timed), max(wall for _, wall in found), cpu_s)

    def cpu_us_per_cycle(self) -> float:
        """The client's CPU a cycle: what bounds a loaded process, whatever the wall clock."""
        return self.cpu_s / len(self.cycles_ns) * 1e6 if self.cycles_ns else float("nan")

    def stats(self) -> Stats:
        latencies = Stats.of_wall(self.cycles_ns, self.wall_s)
        return replace(latencies, calls=self.counted, ops_per_s=self.counted / self.wall_s)

    def lag(self) -> Lag | None:
        return Lag.of(self.lateness_ns) if self.lateness_ns else None


async def seed_tasks(seed: Seed, tasks: int) -> list[NextCycle]:
    """A user (and session, or thread) of its own for each of `tasks` tasks."""
    run = uuid4().hex[:8]
    return [await seed(f"task-{run}-{i}") for i in range(tasks)]


async def cycle_until(next_cycle: NextCycle, seconds: float) -> tuple[list[int], int]:
    """Cycles until `seconds` have passed: each cycle's time, and how many ended in time.

    The cycle under way at the deadline is finished and timed but not counted: at 100
    tasks a cycle takes a good part of a second, and a rate over the longest task's loop
    would charge that tail to every task."""
    deadline = time.perf_counter() + seconds
    samples: list[int] = []
    counted = 0
    while time.perf_counter() < deadline:
        cycle = next_cycle()
        before = time.perf_counter_ns()
        await cycle()
        samples.append(time.perf_counter_ns() - before)
        counted += time.perf_counter() <= deadline
    return samples, counted


async def tasks_round(cycles: list[NextCycle], seconds: float, tally: Tally) -> None:
    """One round: the tasks run at once for `seconds`, the lag monitor beside them."""
    barrier = asyncio.Barrier(len(cycles) + 1)

    async def task(next_cycle: NextCycle) -> tuple[list[int], int]:
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
    timed = [sample for samples, _ in found for sample in samples]
    tally.add(timed, sum(counted for _, counted in found), seconds, cpu_s)
    tally.lateness_ns += monitor.lateness_ns


async def idle_round(seconds: float, tally: Tally) -> None:
    """The loop with nothing on it but the monitor: the lag the machine alone causes."""
    async with LagMonitor() as monitor:
        await asyncio.sleep(seconds)
    tally.wall_s += seconds
    tally.lateness_ns += monitor.lateness_ns
