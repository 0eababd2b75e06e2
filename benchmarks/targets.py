"""The performance issue's targets, checked against figures of this very run.

Throughput targets compare ops/s; growth targets compare median latency (p50), which a
few slow calls on a shared machine do not move; concurrency compares N writers' ops/s
with one writer's, ours and the floor's alike. A target whose figures were not measured
in this run (section or backend not chosen) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.config import Config
from benchmarks.memory_rss import Rss
from benchmarks.timing import Row
from benchmarks.workloads import WRITES

READS = ("get_session", "find_wait_by_scope", "list_waits_for_user")
RSS_LIMIT_MB, RSS_SESSIONS = 400.0, 100_000
GROWTH_LIMIT = 1.2


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    required: str
    result: str  # PASS, MISS, or n/a when the size the target names was not reached


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def find(rows: list[Row], **match: object) -> list[Row]:
    return [row for row in rows if all(getattr(row, k) == v for k, v in match.items())]


def ratio(ours: list[Row], base: list[Row]) -> float | None:
    return ours[0].stats.ops_per_s / base[0].stats.ops_per_s if ours and base else None


def at_least(name: str, measured: float | None, least: float) -> list[Target]:
    if measured is None:
        return []
    return [Target(name, f"{measured:.2f}x", f">= {least:.1f}x", verdict(measured >= least))]


def growth(name: str, series: list[Row], wanted: int) -> list[Target]:
    """p50 at the largest size over p50 at the smallest."""
    if len(series) < 2:
        return []
    small, large = min(series, key=lambda r: r.size), max(series, key=lambda r: r.size)
    factor = large.stats.p50_us / small.stats.p50_us
    measured = f"{factor:.2f}x ({large.size:,} vs {small.size:,})"
    if large.size < wanted:
        return [Target(name, f"{measured}; {wanted:,} not reached", f"<= {GROWTH_LIMIT}x", "n/a")]
    return [Target(name, measured, f"<= {GROWTH_LIMIT}x", verdict(factor <= GROWTH_LIMIT))]


def postgres_targets(rows: list[Row]) -> list[Target]:
    found: list[Target] = []
    for op in (*WRITES, "turn", *READS):
        pg = find(rows, section="operations", backend="postgres", operation=op)
        measured = ratio(find(pg, subject="ours"), find(pg, subject="floor"))
        found += at_least(f"PostgreSQL {op} vs floor", measured, 0.8 if op in READS else 0.7)
    cycle = find(rows, section="langgraph")
    measured = ratio(find(cycle, subject="ours"), find(cycle, subject="langgraph"))
    return found + at_least("update + get cycle vs LangGraph put + get_tuple", measured, 1.2)


def growth_targets(rows: list[Row], config: Config) -> list[Target]:
    found: list[Target] = []
    for backend in config.backends:
        series = find(rows, section="event_growth", backend=backend, subject="ours")
        name = f"{backend}: get_session, longest vs 1-event session (p50)"
        found += growth(name, series, max(config.event_sizes))
        for op in ("find_wait_by_scope", "list_waits_for_user"):
            series = find(
                rows, section="wait_growth", backend=backend, subject="ours", operation=op
            )
            name = f"{backend}: {op}, fullest vs smallest store (p50)"
            found += growth(name, series, max(config.wait_sizes))
    return found


def concurrency_targets(rows: list[Row], config: Config) -> list[Target]:
    found: list[Target] = []
    for op in ("update_session", "turn"):
        pg = find(rows, section="concurrency", backend="postgres", operation=op)
        for writers in (f"{max(config.threads)} threads", f"{config.processes} processes"):
            ours = ratio(
                find(pg, subject="ours", variant=writers), find(pg, subject="ours", size=1)
            )
            floor = ratio(
                find(pg, subject="floor", variant=writers), find(pg, subject="floor", size=1)
            )
            if ours is None:
                continue
            shown = f"{ours:.2f}x" + ("" if floor is None else f" (floor {floor:.2f}x)")
            name = f"PostgreSQL {op}: {writers} vs 1 writer"
            found.append(Target(name, shown, ">= 1.8x", verdict(ours >= 1.8)))
    return found


def memory_targets(rows: list[Row], rss: list[Rss]) -> list[Target]:
    found: list[Target] = []
    mem = find(rows, section="operations", backend="memory")
    for op, least in (("create_session", 1.0), ("update_session", 1.0), ("get_session", 3.0)):
        measured = ratio(
            find(mem, subject="ours", operation=op),
            find(mem, subject="eventsourcing", operation=op),
        )
        found += at_least(f"memory {op} vs plain eventsourcing", measured, least)
    for result in (r for r in rss if r.subject == "ours"):
        limit = RSS_LIMIT_MB * result.sessions / RSS_SESSIONS
        scaled = "" if result.sessions == RSS_SESSIONS else " (400 MB scaled to this count)"
        shown = f"{result.growth_mb:,.0f} MB (process total {result.after_mb:,.0f} MB)"
        name = f"memory: RSS growth for {result.sessions:,} live sessions"
        required = f"<= {limit:,.0f} MB{scaled}"
        found.append(Target(name, shown, required, verdict(result.growth_mb <= limit)))
    return found


def targets(rows: list[Row], rss: list[Rss], config: Config) -> list[Target]:
    return [
        *postgres_targets(rows),
        *growth_targets(rows, config),
        *concurrency_targets(rows, config),
        *memory_targets(rows, rss),
    ]
