"""The report: Markdown tables (printed and saved) and the same figures as JSON.

Ratio columns: "x floor" is ops/s over the floor's on the same backend and operation;
"p50 x smallest" is the median latency over the smallest size's; "x history" is ops/s over
`history()`'s on the same backend; "x 1 writer" is ops/s over one writer's. Every ratio is
computed from figures of the same run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.config import Config
from benchmarks.databases import BACKENDS
from benchmarks.memory_rss import Rss
from benchmarks.targets import Target, find
from benchmarks.timing import ROUNDS, Row, Stats

STATS_HEAD = ["ops/s", "p50 µs", "p99 µs"]


@dataclass
class Results:
    command: str
    header: str  # date, commit, versions
    config: Config
    rows: list[Row] = field(default_factory=list)
    rss: list[Rss] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


def fmt_us(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def stats_cells(stats: Stats) -> list[str]:
    return [f"{stats.ops_per_s:,.0f}", fmt_us(stats.p50_us), fmt_us(stats.p99_us)]


def times(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def table(title: str, head: list[str], rows: list[list[str]], text_columns: int) -> list[str]:
    align = ["---"] * text_columns + ["--:"] * (len(head) - text_columns)
    lines = ["| " + " | ".join(cells) + " |" for cells in [head, align, *rows]]
    return [f"## {title}", "", *lines, ""] if rows else []


def versus(row: Row, rows: list[Row], **base: object) -> float | None:
    """ops/s of `row` over the matching row of `base` (same section, backend, operation)."""
    same = {"section": row.section, "backend": row.backend, "operation": row.operation}
    found = find(rows, **{**same, **base})
    return row.stats.ops_per_s / found[0].stats.ops_per_s if found else None


def over_floor(row: Row, rows: list[Row]) -> str:
    return times(versus(row, rows, subject="floor", variant=row.variant))


def over_history(row: Row, rows: list[Row]) -> str:
    return times(versus(row, rows, operation="history"))


def p50_growth(row: Row, rows: list[Row]) -> str:
    same = {"section": row.section, "backend": row.backend, "operation": row.operation}
    smallest = min(find(rows, **same, subject=row.subject), key=lambda r: r.size)
    return times(row.stats.p50_us / smallest.stats.p50_us)


def per_writer(row: Row, rows: list[Row]) -> str:
    return times(versus(row, rows, subject=row.subject, size=1))


def growth_order(row: Row) -> tuple[int, str, int, int]:
    """By backend as run, then operation, ours first, smallest first."""
    subjects = ("ours", "floor", "eventsourcing")
    return BACKENDS.index(row.backend), row.operation, subjects.index(row.subject), row.size


def sections(results: Results) -> list[str]:
    rows, config = results.rows, results.config

    def of(*names: str) -> list[Row]:
        return [row for row in rows if row.section in names]

    budget = f"{config.seconds:g} s or {config.max_calls:,} calls a store, {ROUNDS} rounds"
    target_cells = [[t.name, t.measured, t.required, t.result] for t in results.targets]
    ops_cells = [
        [r.backend, r.operation, r.subject, *stats_cells(r.stats), over_floor(r, rows)]
        for r in of("operations", "langgraph")
    ]
    growth_cells = [
        [r.backend, r.operation, r.subject, r.variant, *stats_cells(r.stats), p50_growth(r, rows)]
        for r in sorted(of("event_growth", "wait_growth"), key=growth_order)
    ]
    version_cells = [
        [r.backend, r.operation, r.variant, *stats_cells(r.stats), over_history(r, rows)]
        for r in of("version")
    ]
    writer_cells = [
        [r.backend, r.operation, r.subject, r.variant, *stats_cells(r.stats), per_writer(r, rows)]
        for r in of("concurrency")
    ]
    rss_cells = [
        [r.subject, f"{r.sessions:,}", *(f"{mb:,.0f}" for mb in r.figures_mb), f"{r.fill_s:.1f}"]
        for r in results.rss
    ]
    return [
        *table("Targets", ["Target", "Measured", "Required", "Result"], target_cells, 4),
        *table(
            f"Operations: one thread, calls in series ({budget})",
            ["Backend", "Operation", "Store", *STATS_HEAD, "x floor"],
            ops_cells,
            3,
        ),
        *table(
            f"Growth: session length and store size ({budget})",
            ["Backend", "Operation", "Store", "Size", *STATS_HEAD, "p50 x smallest"],
            growth_cells,
            4,
        ),
        *table(
            f"Reading the version: read_session against a replay by history() ({budget})",
            ["Backend", "Operation", "Session", *STATS_HEAD, "x history"],
            version_cells,
            3,
        ),
        *table(
            f"Concurrency: writers on their own sessions ({config.concurrency_seconds:g} s each)",
            ["Backend", "Workload", "Store", "Writers", *STATS_HEAD, "x 1 writer"],
            writer_cells,
            4,
        ),
        *table(
            "Memory backend: RSS of live sessions, each filled in a fresh process",
            ["Store", "Sessions", "RSS before MB", "RSS after MB", "Growth MB", "Fill s"],
            rss_cells,
            1,
        ),
    ]


def render(results: Results) -> str:
    low, high = results.load
    return "\n".join(
        [
            "# greentic-session benchmark",
            "",
            f"Reproduce: `{results.command}`",
            "",
            results.header,
            "",
            *sections(results),
            *[f"Note: {note}\n" for note in results.notes],
            f"Whole run: {results.elapsed_s:.0f} s; "
            f"1-minute load average {low:.1f} before, {high:.1f} after.",
        ]
    )


def to_json(results: Results) -> dict[str, Any]:
    config = asdict(results.config)
    for name in ("json_path", "markdown_path"):
        config[name] = None if config[name] is None else str(config[name])
    rows = [
        {**asdict(r), "ratio_to_floor": versus(r, results.rows, subject="floor", variant=r.variant)}
        for r in results.rows
    ]
    return {
        "command": results.command,
        "header": results.header,
        "config": config,
        "elapsed_s": results.elapsed_s,
        "load_average_1min": {"before": results.load[0], "after": results.load[1]},
        "targets": [asdict(t) for t in results.targets],
        "rows": rows,
        "rss": [{**asdict(r), "growth_mb": r.growth_mb} for r in results.rss],
        "notes": results.notes,
    }
