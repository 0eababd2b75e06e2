"""The asyncio section's report: the rows, the targets at the most tasks, before/after.

Targets (issue 13), each from figures of the same run, at the largest task count:
ours async ≥ 1.5x LangGraph's `AsyncPostgresSaver` on the update + get cycle; ≥ 1.8x our
sync store's single writer thread, on each workload; while ours runs, the loop's worst lag
≤ 50 ms and its p99 ≤ 5 ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks.async_workloads import CYCLE, TURN
from benchmarks.blocking_lag import BlockingRow
from benchmarks.loop_lag import Lag
from benchmarks.report import table
from benchmarks.timing import Stats

OURS, LANGGRAPH, SYNC, TO_THREAD = "ours async", "langgraph async", "ours sync", "ours to_thread"
SUBJECTS = (OURS, LANGGRAPH, TO_THREAD, SYNC)
RATE_TARGETS = ((LANGGRAPH, "tasks", 1.5), (SYNC, "threads", 1.8))  # ours over them
WORST_LAG_MS, P99_LAG_MS = 50.0, 5.0
LAG_NAMES = ("worst", "p99", "p50")


@dataclass(frozen=True)
class AsyncRow:
    subject: str  # ours async, langgraph async, ours sync (threads), ours to_thread
    workload: str  # update + get cycle, turn
    size: int  # concurrent tasks, or writer threads
    unit: str  # "tasks" or "threads"
    stats: Stats
    lag: Lag | None  # the loop's, for asyncio rows
    cpu_us: float  # the client process's CPU a cycle


@dataclass
class Findings:
    """What one run found: the rows, the before/after, notes, and the profile's lines."""

    rows: list[AsyncRow] = field(default_factory=list)
    blocking: list[BlockingRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)
    floor: Lag | None = None  # the loop's lag with no task on it, in the same rounds


def ms(value_us: float) -> str:
    return f"{value_us / 1e3:,.2f}"


def lag_cells(lag: Lag | None) -> list[str]:
    if lag is None:
        return ["", "", ""]
    return [f"{lag.worst_ms:,.2f}", f"{lag.p99_ms:,.2f}", f"{lag.p50_ms:,.2f}"]


def counted(size: int, unit: str) -> str:
    """`1 task`, `10 tasks`, `1 thread`: `unit` is the plural."""
    return f"{size} {unit if size != 1 else unit.removesuffix('s')}"


def row_cells(row: AsyncRow) -> list[str]:
    stats = row.stats
    rate = f"{stats.ops_per_s:,.0f}"
    cells = [row.subject, row.workload, counted(row.size, row.unit), rate]
    timing = [ms(stats.p50_us), ms(stats.p99_us), f"{row.cpu_us:,.0f}"]
    return [*cells, *timing, *lag_cells(row.lag)]


def rows_table(rows: list[AsyncRow]) -> list[str]:
    head = ["subject", "workload", "concurrency", "cycles/s", "p50 ms", "p99 ms", "CPU µs/cycle"]
    head += ["lag worst ms", "lag p99 ms", "lag p50 ms"]
    cells = [row_cells(row) for row in rows]
    return table("Cycles on PostgreSQL, tasks on one store", head, cells, 3)


def one(rows: list[AsyncRow], subject: str, workload: str, size: int) -> AsyncRow | None:
    found = [r for r in rows if (r.subject, r.workload, r.size) == (subject, workload, size)]
    return found[0] if found else None


def status(ok: bool | None) -> str:
    return "not measured" if ok is None else "PASS" if ok else "MISS"


def target_lines(rows: list[AsyncRow], tasks: int) -> list[list[str]]:
    lines = []
    for base, unit, goal in RATE_TARGETS:
        size = tasks if unit == "tasks" else 1
        for workload in (CYCLE, TURN):
            ours, theirs = one(rows, OURS, workload, tasks), one(rows, base, workload, size)
            if base == LANGGRAPH and workload == TURN:
                continue  # LangGraph has no wait lookup: no turn to compare
            ratio = ours.stats.ops_per_s / theirs.stats.ops_per_s if ours and theirs else None
            figure = f"{ratio:.2f}x" if ratio is not None else ""
            what = f"{workload}: ours async at {tasks} tasks vs {base} at {counted(size, unit)}"
            lines.append(
                [what, figure, f">= {goal}x", status(None if ratio is None else ratio >= goal)]
            )
    lags = [row.lag for row in rows if row.subject == OURS and row.size == tasks and row.lag]
    worst = Lag.worst_of(lags) if lags else None
    for name, value, goal in (("worst", "worst_ms", WORST_LAG_MS), ("p99", "p99_ms", P99_LAG_MS)):
        found = getattr(worst, value) if worst else None
        figure = f"{found:,.2f} ms" if found is not None else ""
        what = f"loop lag {name} while ours runs {tasks} tasks (both workloads)"
        lines.append(
            [what, figure, f"<= {goal:g} ms", status(None if found is None else found <= goal)]
        )
    return lines


def blocking_table(rows: list[BlockingRow]) -> list[str]:
    head = ["backend", "how the store is called", "calls at once", "lag worst ms", "lag p99 ms"]
    head.append("lag p50 ms")
    cells = [[r.backend, r.caller, str(r.calls), *lag_cells(r.lag)] for r in rows]
    return table("Before and after: the loop's lag while 50 calls run", head, cells, 3)


def floor_line(floor: Lag) -> str:
    cells = zip(LAG_NAMES, lag_cells(floor), strict=True)
    figures = ", ".join(f"{name} {value} ms" for name, value in cells)
    return f"The loop's lag with no task on it, in the same rounds (the machine's own): {figures}."


def render(header: list[str], found: Findings, tasks: int) -> str:
    targets = target_lines(found.rows, tasks)
    head = ["target", "measured", "goal", "status"]
    body = [*header, "", *table(f"Targets at {tasks} tasks", head, targets, 1)]
    if found.floor is not None:
        body += [floor_line(found.floor), ""]
    body += [*rows_table(found.rows), *blocking_table(found.blocking)]
    body += [f"- {note}" for note in found.notes]
    if found.profile:
        body += ["## Where ours spends its time", "", *found.profile]
    return "\n".join(body).rstrip() + "\n"
