"""How late the event loop runs a task that is due: the lag every coroutine on it feels.

A monitor task sleeps 1 ms in a loop and records, each time, how much later than asked it
woke. While the loop is free that is a few microseconds; a blocking call on the loop (a
sync store called inside a coroutine) delays it by the whole call, and a busy loop (many
tasks ready at once) by the time it takes to run the ready ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass
from types import TracebackType

INTERVAL_S = 0.001


@dataclass(frozen=True)
class Lag:
    """Lateness of the monitor's wake-ups, in milliseconds."""

    samples: int
    worst_ms: float
    p99_ms: float
    p50_ms: float

    @classmethod
    def of(cls, lateness_ns: list[int]) -> Lag:
        if len(lateness_ns) < 2:
            only = lateness_ns[0] / 1e6 if lateness_ns else float("nan")
            return cls(len(lateness_ns), only, only, only)
        cuts = statistics.quantiles(lateness_ns, n=100, method="inclusive")
        return cls(len(lateness_ns), max(lateness_ns) / 1e6, cuts[98] / 1e6, cuts[49] / 1e6)

    @classmethod
    def worst_of(cls, lags: list[Lag]) -> Lag:
        """Each figure at its worst over several runs."""
        return cls(
            sum(lag.samples for lag in lags),
            max(lag.worst_ms for lag in lags),
            max(lag.p99_ms for lag in lags),
            max(lag.p50_ms for lag in lags),
        )


class LagMonitor:
    """`async with LagMonitor() as monitor:` samples the running loop until the block ends;
    `monitor.lag()` then gives the figures."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.lateness_ns: list[int] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LagMonitor:
        self._task = asyncio.create_task(self._watch())
        await asyncio.sleep(0)  # the monitor's first sleep starts before the block's work
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def lag(self) -> Lag:
        return Lag.of(self.lateness_ns)

    async def _watch(self) -> None:
        interval_ns = int(self.interval_s * 1e9)
        while True:
            before = time.perf_counter_ns()
            await asyncio.sleep(self.interval_s)
            late = time.perf_counter_ns() - before - interval_ns
            self.lateness_ns.append(max(late, 0))  # the loop may wake a hair early
