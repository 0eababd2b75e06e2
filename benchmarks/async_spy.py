"""Where ours spends its time, sampled by py-spy: a check on cProfile's figures.

    pip install py-spy
    python -m benchmarks.async_spy --tasks 100 --seconds 8

For each workload a child process runs ours at `--tasks` tasks (seeding and a 1 s warm-up
round, then `--seconds`) under `py-spy record --gil`: only samples of the thread holding
the GIL, so the store's idle worker thread and time in C calls that release it (libpq's
send and receive) are left out. py-spy costs the sampled process almost nothing, unlike
cProfile. Each sample is put where its innermost frame lives (`async_profile.place`);
"within" counts a sample for every place on its stack (the outer ones, on every stack,
left out). The child's start (imports, seeding) is sampled too: a few per cent.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from benchmarks.async_profile import place
from benchmarks.async_runner import Tally, seed_tasks, tasks_round
from benchmarks.async_store import ours_async
from benchmarks.async_workloads import WORKLOADS
from benchmarks.config import bench_pg_url
from benchmarks.databases import databases

TOP = 10
# On (nearly) every stack: the script, the harness's task and the loop running it.
OUTER = {"other Python", "the benchmark's harness", "the event loop (asyncio)"}


def frame_place(frame: str) -> str:
    """`function (path:line)`, as py-spy writes a frame, to its place."""
    function, _, where = frame.rpartition(" (")
    return place(where.rsplit(":", 1)[0], function)


def summary(raw: str, title: str) -> list[str]:
    """py-spy's raw output (`frame;frame;... count` a line) as Markdown lines."""
    inner: Counter[str] = Counter()
    within: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        calls = stack.split(";")
        inner[frame_place(calls[-1])] += int(count)
        frames[calls[-1]] += int(count)
        for found in {frame_place(frame) for frame in calls} - OUTER:
            within[found] += int(count)
    total = sum(inner.values()) or 1
    own = ", ".join(f"{name} {n / total:.0%}" for name, n in inner.most_common())
    under = ", ".join(f"{name} {n / total:.0%}" for name, n in within.most_common())
    lines = [f"- {title}, {total:,} samples holding the GIL. Innermost: {own}."]
    lines += [f"  Within: {under}. Top innermost frames:"]
    lines += [f"  - {n / total:5.1%} `{frame}`" for frame, n in frames.most_common(TOP)]
    return [*lines, ""]


async def target(workload: str, tasks: int, seconds: float, pool_size: int) -> None:
    with databases(bench_pg_url()) as dbs:
        async with ours_async(dbs.new_url("postgres", "spy"), pool_size) as store:
            cycles = await seed_tasks(WORKLOADS[workload](store), tasks)
            await tasks_round(cycles, 1.0, Tally())
            await tasks_round(cycles, seconds, tally := Tally())
    print(f"{tally.stats().ops_per_s:,.0f} cycles/s under py-spy")


def sampled(workload: str, options: argparse.Namespace, spy: str) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "raw.txt"
        child = [sys.executable, "-m", "benchmarks.async_spy", "--target", workload]
        child += ["--tasks", str(options.tasks), "--seconds", str(options.seconds)]
        child += ["--pool-size", str(options.pool_size)]
        record = [spy, "record", "--gil", "-r", "200", "-f", "raw", "-o", str(out), "--"]
        done = subprocess.run(record + child, capture_output=True, text=True, check=True)
        rate = next(line for line in done.stdout.splitlines() if "cycles/s" in line)
        return summary(out.read_text(), f"{workload}, {options.tasks} tasks ({rate})")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.async_spy")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--target", choices=list(WORKLOADS), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.target:
        asyncio.run(target(options.target, options.tasks, options.seconds, options.pool_size))
        return
    spy = shutil.which("py-spy")
    if spy is None:
        sys.exit("py-spy is not installed: pip install py-spy")
    print("\n".join(line for workload in WORKLOADS for line in sampled(workload, options, spy)))


if __name__ == "__main__":
    main()
