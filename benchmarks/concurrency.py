"""Concurrent writers on different sessions: 1, 4, 8 threads and N processes.

Each writer has its own user and sessions: `update_session` over 20 sessions, or the
turn over 20 parked conversations. Threads share one store instance; processes (spawned)
each open their own on the same database. Writers warm up, meet at a barrier, then run
for the same wall time; throughput is all calls divided by the longest writer's loop.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.synchronize import Barrier
from typing import Any
from uuid import uuid4

from benchmarks.config import Config
from benchmarks.databases import Databases
from benchmarks.floors import open_floor
from benchmarks.inputs import add_session, data_of, serial
from benchmarks.timing import Call, Prepare, Row, Stats
from benchmarks.workloads import turn_calls, update_get_calls
from greentic_session import SessionStore, open_store

POOL = 20  # sessions per writer
WORKLOADS = ("update_session", "turn")
CYCLE = "update + get cycle"  # a workload of the asyncio section's sync rows
WARMUP_CALLS = 5
BATCH = 20
OPENERS: dict[str, Callable[[str], SessionStore]] = {"ours": open_store, "floor": open_floor}


def own_updates(store: SessionStore, user: str) -> Prepare:
    rotation = itertools.cycle([add_session(store, user) for _ in range(POOL)])

    def prepare(n: int) -> list[Call]:
        keys = itertools.islice(rotation, n)
        return [partial(store.update_session, key, data_of(user, serial())) for key in keys]

    return prepare


def writer_calls(store: SessionStore, workload: str) -> Prepare:
    user = f"writer-{uuid4().hex[:12]}"
    if workload == "update_session":
        return own_updates(store, user)
    if workload == CYCLE:
        return update_get_calls(store, [user] * POOL)
    return turn_calls(store, [user] * POOL)


def write_until(prepare: Prepare, seconds: float) -> tuple[list[int], float]:
    """Calls until `seconds` have passed: each call's time, and the loop's wall time."""
    started = time.perf_counter()
    deadline, samples = started + seconds, []
    while time.perf_counter() < deadline:
        for call in prepare(BATCH):
            before = time.perf_counter_ns()
            call()
            samples.append(time.perf_counter_ns() - before)
            if time.perf_counter() >= deadline:
                break
    return samples, time.perf_counter() - started


def run_threads(store: SessionStore, workload: str, writers: int, seconds: float) -> Stats:
    prepares = [writer_calls(store, workload) for _ in range(writers)]
    return combine(thread_results(prepares, seconds))


def thread_results(prepares: list[Prepare], seconds: float) -> list[tuple[list[int], float]]:
    """A thread a writer: warm-up, a barrier, then `seconds` of calls; each one's samples."""
    barrier = threading.Barrier(len(prepares))
    results: list[tuple[list[int], float]] = []

    def writer(prepare: Prepare) -> None:
        for call in prepare(WARMUP_CALLS):  # the thread's connection is opened here
            call()
        barrier.wait()
        results.append(write_until(prepare, seconds))

    threads = [threading.Thread(target=writer, args=(prepare,)) for prepare in prepares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _process_writer(
    url: str, subject: str, workload: str, seconds: float, barrier: Barrier, results: Any
) -> None:
    with OPENERS[subject](url) as store:
        prepare = writer_calls(store, workload)
        for call in prepare(WARMUP_CALLS):
            call()
        barrier.wait()
        results.put(write_until(prepare, seconds))


def run_processes(url: str, subject: str, workload: str, writers: int, seconds: float) -> Stats:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(writers), context.Queue()
    args = (url, subject, workload, seconds, barrier, results)
    processes = [context.Process(target=_process_writer, args=args) for _ in range(writers)]
    for process in processes:
        process.start()
    found = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join()
    return combine(found)


def combine(results: list[tuple[list[int], float]]) -> Stats:
    samples = [sample for found, _ in results for sample in found]
    return Stats.of_wall(samples, max(wall for _, wall in results))


def concurrency(backend: str, dbs: Databases, config: Config) -> list[Row]:
    rows: list[Row] = []
    seconds = config.concurrency_seconds
    for subject, opener in OPENERS.items():
        url = dbs.new_url(backend, subject)
        with opener(url) as store:
            for workload in WORKLOADS:
                for n in config.threads:
                    stats = run_threads(store, workload, n, seconds)
                    label = f"{n} thread{'s' if n > 1 else ''}"
                    rows.append(Row("concurrency", backend, workload, subject, label, stats, n))
                n = config.processes
                stats = run_processes(url, subject, workload, n, seconds)
                rows.append(
                    Row("concurrency", backend, workload, subject, f"{n} processes", stats, n)
                )
    return rows
