"""Resident memory of 100,000 live sessions (1 KB context_json each) on memory://.

Each store is filled in a fresh interpreter (`python -m benchmarks.memory_rss SUBJECT N`):
RSS is read from /proc/self/status after the imports and the empty store, and again
after N `create_session` calls (each with its own ~1 KB context) and a full collection.
The figure is the difference; the total RSS of the process is reported beside it.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from dataclasses import dataclass

from benchmarks.floor_memory import MemoryFloor
from benchmarks.inputs import session_data, spread_user, tenant_ctx
from benchmarks.plain_eventsourcing import create_and_save, open_plain
from greentic_session import SessionStore, open_store

SUBJECTS = ("ours", "floor", "eventsourcing")


@dataclass(frozen=True)
class Rss:
    subject: str
    sessions: int
    before_mb: float
    after_mb: float
    fill_s: float

    @property
    def growth_mb(self) -> float:
        return self.after_mb - self.before_mb

    @property
    def figures_mb(self) -> tuple[float, float, float]:
        return self.before_mb, self.after_mb, self.growth_mb


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def fill(subject: str, sessions: int) -> Rss:
    """Runs in the fresh interpreter."""
    store: SessionStore | None = None
    plain = open_plain("memory://") if subject == "eventsourcing" else None
    if plain is None:
        store = open_store("memory://") if subject == "ours" else MemoryFloor()
    gc.collect()
    before, started = rss_mb(), time.perf_counter()
    for i in range(sessions):
        ctx = tenant_ctx(spread_user(i))
        data = session_data(ctx, i)
        if store is not None:
            key = store.create_session(ctx, data)
        else:
            assert plain is not None
            create_and_save(plain, data.model_dump(mode="json"))
    filled = time.perf_counter() - started
    if store is not None:
        assert store.get_session(key) == data
    del ctx, data
    gc.collect()
    return Rss(subject, sessions, before, rss_mb(), filled)


def measure_rss(subject: str, sessions: int) -> Rss:
    """Runs `fill` in a fresh interpreter and reads its result."""
    command = [sys.executable, "-m", "benchmarks.memory_rss", subject, str(sessions)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return Rss(**found)


if __name__ == "__main__":
    result = fill(sys.argv[1], int(sys.argv[2]))
    print(json.dumps(result.__dict__))
