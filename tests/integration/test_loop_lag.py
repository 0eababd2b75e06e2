"""The asyncio benchmark's own instruments: the loop-lag monitor and the rate's window.

They decide the issue's lag targets and the cycle rates, so they are tested on their own,
without a database: a blocking call must show as lag of its whole length, and a cycle that
ends past its round's window must be timed but not counted.
"""

from __future__ import annotations

import asyncio
import time

from benchmarks.async_runner import Tally, cycle_until
from benchmarks.async_workloads import AsyncCycle
from benchmarks.loop_lag import Lag, LagMonitor


async def blocked_for(seconds: float) -> Lag:
    async with LagMonitor() as monitor:
        await asyncio.sleep(0.01)
        time.sleep(seconds)  # what a sync store called inside a coroutine does to the loop
        await asyncio.sleep(0.01)
    return monitor.lag()


def test_a_blocking_call_on_the_loop_shows_as_lag_of_its_whole_length() -> None:
    lag = asyncio.run(blocked_for(0.08))
    assert lag.worst_ms >= 75
    assert lag.p50_ms < lag.worst_ms


def test_the_monitor_samples_the_loop_about_every_millisecond() -> None:
    async def idle() -> Lag:
        async with LagMonitor() as monitor:
            await asyncio.sleep(0.2)
        return monitor.lag()

    lag = asyncio.run(idle())
    assert 20 <= lag.samples <= 200


def test_a_cycle_ending_past_the_window_is_timed_but_not_counted() -> None:
    async def slow() -> None:
        await asyncio.sleep(0.04)

    def next_cycle() -> AsyncCycle:
        return slow

    samples, counted = asyncio.run(cycle_until(next_cycle, 0.1))
    assert len(samples) == counted + 1
    tally = Tally()
    tally.add(samples, counted, 0.1, 0.0)
    assert tally.stats().ops_per_s == counted / 0.1
    assert tally.stats().calls == counted
