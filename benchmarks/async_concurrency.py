"""The asyncio section: our async store under 1, 10 and 100 concurrent tasks (issue 13).

Run from the project root (the `bench` extra brings LangGraph's saver):

    python -m benchmarks.async_concurrency --seconds 5 --profile-seconds 5 \\
        --markdown benchmarks/results/async_concurrency.md

On PostgreSQL, in fresh schemas, each measurement for the same wall time (`--seconds`, split
over `--rounds` alternating rounds, each after a warm-up; benchmarks/async_plan.py):
- ours async: the turn and the update + get cycle, N tasks on ONE `open_async_store`
  (`pool_size` connections);
- LangGraph's `AsyncPostgresSaver` over an `AsyncConnectionPool` of the same size:
  `aput` + `aget_tuple`, each task its own thread_id;
- ours to_thread: the sync store with each call on asyncio's default thread pool, the
  way out users had before the async store;
- ours sync: writer threads on one sync store (`concurrency.py`), for the ratio;
- the loop's lag (benchmarks/loop_lag.py) while each asyncio subject runs, and the
  before/after of 50 calls at once on SQLite and PostgreSQL (benchmarks/blocking_lag.py).
`--profile-seconds S` adds where ours spends its time at the most tasks (cProfile).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack

from benchmarks.async_options import Options, loop_factory, parse
from benchmarks.async_plan import Measurement, run_plan, task_plan, thread_plan
from benchmarks.async_profile import profile_ours
from benchmarks.async_report import LANGGRAPH, OURS, SYNC, TO_THREAD, Findings, render
from benchmarks.async_runner import idle_round
from benchmarks.async_store import AsyncStore, ours_async, ours_to_thread
from benchmarks.async_workloads import CYCLE, WORKLOADS, Seed, langgraph_async
from benchmarks.bench_store import header as bench_header
from benchmarks.bench_store import progress
from benchmarks.blocking_lag import blocking_rows
from benchmarks.config import bench_pg_url, parse_config
from benchmarks.databases import Databases, databases
from benchmarks.langgraph_baseline import saver_installed
from greentic_session import open_store


async def measure(dbs: Databases, options: Options, found: Findings) -> None:
    """Every subject's stores open at once; the plan runs in rounds; then the profile."""
    async with AsyncExitStack() as stack:
        plan: list[Measurement] = []
        enter, chosen = stack.enter_async_context, options.subjects
        if OURS in chosen:
            ours = await enter(ours_async(dbs.new_url("postgres", "async"), options.pool_size))
            plan += await task_plan(OURS, seeds(ours), options.tasks)
        if LANGGRAPH in chosen and langgraph_installed(found):
            lg = await enter(langgraph_async(dbs.new_url("postgres", "lg"), options.pool_size))
            plan += await task_plan(LANGGRAPH, {CYCLE: lg}, options.tasks)
        if TO_THREAD in chosen:
            to_thread = await enter(ours_to_thread(dbs.new_url("postgres", "to_thread")))
            plan += await task_plan(TO_THREAD, seeds(to_thread), options.tasks)
        if SYNC in chosen:
            sync = stack.enter_context(open_store(dbs.new_url("postgres", "sync")))
            plan += thread_plan(sync, options.threads)
        floor = Measurement("no store", "the loop alone", 0, "tasks", idle_round)
        found.rows = await run_plan([*plan, floor], options.seconds, options.rounds)
        found.rows.pop()
        found.floor = floor.tally.lag()
        if OURS in chosen and options.profile_seconds:
            progress(f"{OURS}: profile at {max(options.tasks)} tasks")
            found.profile = await profile_ours(ours, max(options.tasks), options.profile_seconds)


def langgraph_installed(found: Findings) -> bool:
    """LangGraph comes with the `bench` extra; without it its rows are left out, said so."""
    if saver_installed():
        return True
    found.notes.append(f"{LANGGRAPH} not measured: pip install -e '.[bench]'")
    return False


def seeds(store: AsyncStore) -> dict[str, Seed]:
    return {workload: seed_of(store) for workload, seed_of in WORKLOADS.items()}


def uptime() -> str:
    done = subprocess.run(["uptime"], capture_output=True, text=True)
    return done.stdout.strip() or f"load average {os.getloadavg()}"


def main(argv: Sequence[str] | None = None) -> str:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse(argv)
    command = shlex.join(["python", "-m", "benchmarks.async_concurrency", *argv])
    load_before, found = uptime(), Findings()
    runner = asyncio.Runner(loop_factory=loop_factory(options.loop))
    with databases(bench_pg_url()) as dbs, runner:
        runner.run(measure(dbs, options, found))
        found.blocking = runner.run(blocking_rows(dbs, options.pool_size))
    config = parse_config(["--backends", "postgres"])
    header = [
        "# asyncio concurrency: ours async, LangGraph async, the sync store",
        "",
        f"Reproduce: `{command}`",
        "",
        bench_header(config),
        f"Pool: {options.pool_size} connections for ours async and LangGraph's; the sync store's "
        f"default pool; {options.seconds:g} s a measurement in {options.rounds} rounds, each after "
        f"a warm-up; event loop: {options.loop}.",
        f"Load before: `{load_before}`; after: `{uptime()}`.",
    ]
    report = render(header, found, max(options.tasks))
    print(report)
    if options.markdown:
        with open(options.markdown, "w") as file:
            file.write(report)
    return report


if __name__ == "__main__":
    main()
