"""Throughput and latency of the session store on each backend.

Run from the project root: `python -m benchmarks.bench_store [--quick] [--json PATH]`.

Every measurement calls one store operation in series on one thread. Inputs are prepared
(untimed) in batches before they are timed; each call is timed alone with
`time.perf_counter_ns`, and a measurement stops when its timed calls add up to the time
budget or reach the call limit, whichever comes first. ops/s is calls divided by the
summed call time.

Besides the per-operation table it checks two design claims, printing the large/small
latency ratio (about 1 means the cost does not grow):
- `get_session` (and `update_session`) cost the same on a session with 1 event as on one
  with 10,000, because they read a current-state read model instead of replaying;
- `find_wait_by_scope` and `list_waits_for_user` cost the same with 100 or 10,000 other
  waits in the store, because they are index lookups.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import uuid4

import psycopg
from psycopg import sql

from adapters.open_store import open_store
from domain import ReplyScope, SessionCursor, SessionData, SessionKey, SessionStore, TenantCtx

BACKENDS = ("memory", "sqlite", "postgres")
PG_URL_VARIABLE = "GREENTIC_SESSION_BENCH_PG"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

CONTEXT_JSON_BYTES = 1024
WAIT_TTL = timedelta(hours=1)
USERS = 100  # writes in the operations table spread over this many users
READ_POOL = 100  # reads and updates cycle over this many prepared sessions or waits
FEW_WAITS = 5  # waits of the user whose waits are listed
WARMUP_CALLS = 20
BATCH = 100
ROUNDS = 4  # growth studies alternate small and large this many times

Call = Callable[[], object]
Prepare = Callable[[int], list[Call]]
Opener = Callable[[], SessionStore]

_serial = itertools.count()


# -- configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    backends: tuple[str, ...]
    seconds: float
    max_calls: int
    events: int
    baseline_waits: int
    waits: int
    pg_url: str
    json_path: Path | None


def parse_config(argv: Sequence[str]) -> Config:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_store", description=__doc__)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated")
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    parser.add_argument("--max-calls", type=int, default=20_000, help="call limit per measurement")
    parser.add_argument("--events", type=int, default=10_000, help="events in the long session")
    parser.add_argument(
        "--waits",
        type=int,
        default=10_000,
        help="other waits in the large store (about 2 ms each to build on PostgreSQL)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    backends = tuple(name.strip() for name in args.backends.split(",") if name.strip())
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown or not backends:
        parser.error(f"--backends takes some of {', '.join(BACKENDS)}; got {args.backends!r}")
    if args.seconds <= 0 or args.max_calls < 1 or args.events < 1 or args.waits < 0:
        parser.error("--seconds must be positive, --max-calls and --events at least 1")
    quick = bool(args.quick)
    return Config(
        backends=backends,
        seconds=0.1 if quick else args.seconds,
        max_calls=100 if quick else args.max_calls,
        events=50 if quick else args.events,
        baseline_waits=20 if quick else 100,
        waits=200 if quick else args.waits,
        pg_url=os.environ.get(PG_URL_VARIABLE) or DEFAULT_PG_URL,
        json_path=args.json,
    )


# -- realistic inputs --------------------------------------------------------------


def tenant_ctx(user: str) -> TenantCtx:
    base = TenantCtx.new("prod", "acme-corp").with_team("support").with_user(user)
    return base.model_copy(
        update={
            "provider_id": "telegram",
            "flow_id": "order-status",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "attributes": {"locale": "en-GB", "channel": "telegram", "plan": "business"},
        }
    )


def context_json(step: int) -> str:
    """A flow's context snapshot, padded to about 1 KB."""
    context: dict[str, Any] = {
        "step": step,
        "customer": {"name": "Ada Example", "email": "ada@example.com", "tier": "gold"},
        "order": {
            "id": f"ORD-{step:08d}",
            "items": [{"sku": f"SKU-{i:04d}", "qty": i + 1, "price": 9.99} for i in range(5)],
            "currency": "EUR",
        },
        "answers": {"reason": "where is my parcel?", "preferred_contact": "chat"},
        "notes": "",
    }
    filler = CONTEXT_JSON_BYTES - len(json.dumps(context))
    context["notes"] = "n" * max(filler, 0)
    return json.dumps(context)


def session_data(ctx: TenantCtx, step: int) -> SessionData:
    return SessionData(
        tenant_ctx=ctx,
        flow_id="order-status",
        pack_id="support-pack",
        cursor=SessionCursor(node_pointer=f"node-{step % 12}", wait_reason="awaiting_reply"),
        context_json=context_json(step),
    )


def unique_scope() -> ReplyScope:
    n = next(_serial)
    return ReplyScope(conversation=f"chat-{n}", thread=f"topic-{n % 7}", reply_to=f"msg-{n}")


def spread_user(n: int) -> str:
    return f"user-{n % USERS:03d}"


@dataclass(frozen=True)
class Wait:
    """A registered wait and how to find it again."""

    ctx: TenantCtx
    user: str
    scope: ReplyScope
    key: SessionKey


def add_wait(store: SessionStore, user: str) -> Wait:
    """Registers a wait under a new key (register_wait creates the session)."""
    ctx = tenant_ctx(user)
    wait = Wait(ctx, user, unique_scope(), SessionKey(str(uuid4())))
    store.register_wait(ctx, user, wait.scope, wait.key, session_data(ctx, 0), ttl=WAIT_TTL)
    return wait


def add_session(store: SessionStore, user: str) -> SessionKey:
    ctx = tenant_ctx(user)
    return store.create_session(ctx, session_data(ctx, 0))


def cycle_calls(calls: list[Call]) -> Prepare:
    """Prepared once, reused in turn: for operations that leave the store as it was."""
    turn = itertools.cycle(calls)
    return lambda n: [next(turn) for _ in range(n)]


# -- workloads: each prepares its store, then hands out calls to time ---------------


def create_session_workload(store: SessionStore) -> Prepare:
    def prepare(n: int) -> list[Call]:
        calls: list[Call] = []
        for _ in range(n):
            ctx = tenant_ctx(spread_user(next(_serial)))
            data = session_data(ctx, 0)
            calls.append(partial(store.create_session, ctx, data))
        return calls

    return prepare


def get_session_workload(store: SessionStore) -> Prepare:
    keys = [add_session(store, spread_user(i)) for i in range(READ_POOL)]
    assert store.get_session(keys[0]) is not None
    return cycle_calls([partial(store.get_session, key) for key in keys])


def update_session_workload(store: SessionStore) -> Prepare:
    keys = [add_session(store, spread_user(i)) for i in range(READ_POOL)]
    turn = itertools.cycle(enumerate(keys))

    def prepare(n: int) -> list[Call]:
        calls: list[Call] = []
        for _ in range(n):
            i, key = next(turn)
            data = session_data(tenant_ctx(spread_user(i)), next(_serial))
            calls.append(partial(store.update_session, key, data))
        return calls

    return prepare


def register_wait_workload(store: SessionStore) -> Prepare:
    """Each call registers a wait, with a TTL and a new scope, on an existing session."""

    def prepare(n: int) -> list[Call]:
        calls: list[Call] = []
        for _ in range(n):
            user = spread_user(next(_serial))
            ctx = tenant_ctx(user)
            key = add_session(store, user)
            scope, data = unique_scope(), session_data(ctx, 1)
            calls.append(partial(store.register_wait, ctx, user, scope, key, data, ttl=WAIT_TTL))
        return calls

    return prepare


def find_wait_by_scope_workload(store: SessionStore) -> Prepare:
    waits = [add_wait(store, spread_user(i)) for i in range(READ_POOL)]
    return find_wait_calls(store, waits)


def find_wait_calls(store: SessionStore, waits: list[Wait]) -> Prepare:
    """Lookups that hit: checked once here, outside the timing."""
    for wait in waits:
        assert store.find_wait_by_scope(wait.ctx, wait.user, wait.scope) == wait.key
    return cycle_calls([partial(store.find_wait_by_scope, w.ctx, w.user, w.scope) for w in waits])


def list_waits_for_user_workload(store: SessionStore) -> Prepare:
    user = f"few-{next(_serial)}"
    waits = [add_wait(store, user) for _ in range(FEW_WAITS)]
    return list_waits_calls(store, waits)


def list_waits_calls(store: SessionStore, waits: list[Wait]) -> Prepare:
    """Lists one user's waits: checked once here, outside the timing."""
    ctx, user = waits[0].ctx, waits[0].user
    assert store.list_waits_for_user(ctx, user) == [wait.key for wait in waits]
    return cycle_calls([lambda: store.list_waits_for_user(ctx, user)])


def clear_wait_workload(store: SessionStore) -> Prepare:
    def prepare(n: int) -> list[Call]:
        waits = [add_wait(store, spread_user(next(_serial))) for _ in range(n)]
        return [partial(store.clear_wait, w.ctx, w.user, w.scope) for w in waits]

    return prepare


def remove_session_workload(store: SessionStore) -> Prepare:
    def prepare(n: int) -> list[Call]:
        keys = [add_session(store, spread_user(next(_serial))) for _ in range(n)]
        return [partial(store.remove_session, key) for key in keys]

    return prepare


WORKLOADS: dict[str, Callable[[SessionStore], Prepare]] = {
    "create_session": create_session_workload,
    "get_session": get_session_workload,
    "update_session": update_session_workload,
    "register_wait": register_wait_workload,
    "find_wait_by_scope": find_wait_by_scope_workload,
    "list_waits_for_user": list_waits_for_user_workload,
    "clear_wait": clear_wait_workload,
    "remove_session": remove_session_workload,
}


# -- measuring ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    calls: int
    ops_per_s: float
    p50_us: float
    p99_us: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Stats:
        cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
        return cls(
            calls=len(samples_ns),
            ops_per_s=len(samples_ns) * 1e9 / sum(samples_ns),
            p50_us=cuts[49] / 1e3,
            p99_us=cuts[98] / 1e3,
        )


def measure(prepare: Prepare, config: Config) -> Stats:
    return Stats.of(sample(prepare, config.seconds, config.max_calls))


def measure_pair(small: Prepare, large: Prepare, config: Config) -> tuple[Stats, Stats]:
    """Alternates the two sides in rounds, so drifting machine load hits both alike."""
    seconds, max_calls = config.seconds / ROUNDS, max(config.max_calls // ROUNDS, 1)
    small_ns: list[int] = []
    large_ns: list[int] = []
    for _ in range(ROUNDS):
        small_ns += sample(small, seconds, max_calls)
        large_ns += sample(large, seconds, max_calls)
    return Stats.of(small_ns), Stats.of(large_ns)


def sample(prepare: Prepare, seconds: float, max_calls: int) -> list[int]:
    """Times prepared calls one by one until the budget or the call limit is reached."""
    for call in prepare(WARMUP_CALLS):
        call()
    gc.collect()
    left_ns = int(seconds * 1e9)
    samples: list[int] = []
    while len(samples) < max_calls and left_ns > 0:
        timed = time_calls(prepare(min(BATCH, max_calls - len(samples))), left_ns)
        samples += timed
        left_ns -= sum(timed)
    return samples


def time_calls(calls: list[Call], budget_ns: int) -> list[int]:
    samples: list[int] = []
    spent = 0
    for call in calls:
        started = time.perf_counter_ns()
        call()
        elapsed = time.perf_counter_ns() - started
        samples.append(elapsed)
        spent += elapsed
        if spent >= budget_ns:
            break
    return samples


# -- stores ------------------------------------------------------------------------


@contextmanager
def store_opener(backend: str, config: Config) -> Iterator[Opener]:
    """Opens fresh, empty stores of a backend; removes their files or schemas afterwards."""
    if backend == "memory":
        yield lambda: open_store("memory://")
    elif backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gs-bench-") as folder:
            files = (Path(folder) / f"store-{n}.db" for n in itertools.count())
            yield lambda: open_store(f"sqlite:///{next(files)}")
    else:
        with postgres_opener(config.pg_url) as opener:
            yield opener


@contextmanager
def postgres_opener(base_url: str) -> Iterator[Opener]:
    """Each store gets its own random schema; all of them are dropped at the end."""
    run = uuid4().hex[:12]
    schemas: list[str] = []

    def open_fresh() -> SessionStore:
        schemas.append(f"gs_bench_{run}_{len(schemas)}")
        return open_store(with_query(base_url, schema=schemas[-1]))

    try:
        yield open_fresh
    finally:
        drop_schemas(base_url, schemas)


def with_query(url: str, **options: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(options)
    return urlunsplit(parts._replace(query=urlencode(query)))


def libpq_url(url: str) -> str:
    """The server part of a store URL: store options are not libpq parameters."""
    return urlunsplit(urlsplit(url)._replace(query=""))


def drop_schemas(base_url: str, schemas: list[str]) -> None:
    with psycopg.connect(libpq_url(base_url), autocommit=True) as connection:
        for schema in schemas:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            connection.execute(drop)


@contextmanager
def fresh_store(opener: Opener) -> Iterator[SessionStore]:
    store = opener()
    try:
        yield store
    finally:
        store.close()


# -- the three studies -------------------------------------------------------------


@dataclass(frozen=True)
class OperationRow:
    backend: str
    operation: str
    stats: Stats


@dataclass(frozen=True)
class GrowthRow:
    backend: str
    operation: str
    small: Stats
    large: Stats

    @property
    def p50_ratio(self) -> float:
        return self.large.p50_us / self.small.p50_us

    @property
    def p99_ratio(self) -> float:
        return self.large.p99_us / self.small.p99_us


def measure_operations(backend: str, opener: Opener, config: Config) -> list[OperationRow]:
    rows: list[OperationRow] = []
    with fresh_store(opener) as store:
        for operation, workload in WORKLOADS.items():
            rows.append(OperationRow(backend, operation, measure(workload(store), config)))
    return rows


def long_session(store: SessionStore, events: int) -> SessionKey:
    """A session with `events` events: created, then updated `events - 1` times."""
    ctx = tenant_ctx("long-lived")
    key = store.create_session(ctx, session_data(ctx, 0))
    for step in range(1, events):
        store.update_session(key, session_data(ctx, step))
    return key


def fresh_session_updates(store: SessionStore) -> Prepare:
    """Each call updates a different session that has only its Created event."""

    def prepare(n: int) -> list[Call]:
        ctx = tenant_ctx("short-lived")
        keys = [store.create_session(ctx, session_data(ctx, 0)) for _ in range(n)]
        data = session_data(ctx, 1)
        return [partial(store.update_session, key, data) for key in keys]

    return prepare


def repeated_updates(store: SessionStore, key: SessionKey) -> Prepare:
    data = session_data(tenant_ctx("long-lived"), 1)
    return cycle_calls([lambda: store.update_session(key, data)])


def measure_event_growth(backend: str, opener: Opener, config: Config) -> list[GrowthRow]:
    with fresh_store(opener) as store:
        short = add_session(store, "short-lived")
        long = long_session(store, config.events)
        get_short = cycle_calls([partial(store.get_session, short)])
        get_long = cycle_calls([partial(store.get_session, long)])
        gets = measure_pair(get_short, get_long, config)
        updates = measure_pair(fresh_session_updates(store), repeated_updates(store, long), config)
    return [
        GrowthRow(backend, "get_session", *gets),
        GrowthRow(backend, "update_session", *updates),
    ]


def add_other_waits(store: SessionStore, count: int) -> None:
    """Waits of other users (1,000 of them), each under its own scope."""
    for _ in range(count):
        add_wait(store, f"other-{next(_serial) % 1000:04d}")


def wait_lookups(store: SessionStore, other_waits: int) -> tuple[Prepare, Prepare]:
    """A user with a few waits among `other_waits` others: its find and list calls."""
    waits = [add_wait(store, "target") for _ in range(FEW_WAITS)]
    add_other_waits(store, other_waits)
    return find_wait_calls(store, waits), list_waits_calls(store, waits)


def measure_wait_growth(backend: str, opener: Opener, config: Config) -> list[GrowthRow]:
    """A small and a large store side by side, measured in alternation."""
    with fresh_store(opener) as small_store, fresh_store(opener) as large_store:
        small_find, small_list = wait_lookups(small_store, config.baseline_waits)
        large_find, large_list = wait_lookups(large_store, config.waits)
        finds = measure_pair(small_find, large_find, config)
        lists = measure_pair(small_list, large_list, config)
    return [
        GrowthRow(backend, "find_wait_by_scope", *finds),
        GrowthRow(backend, "list_waits_for_user", *lists),
    ]


# -- the report --------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    header: str
    config: Config
    operations: list[OperationRow]
    event_growth: list[GrowthRow]
    wait_growth: list[GrowthRow]
    elapsed_s: float
    load_before: float
    load_after: float


def run(config: Config) -> tuple[list[OperationRow], list[GrowthRow], list[GrowthRow]]:
    operations: list[OperationRow] = []
    event_growth: list[GrowthRow] = []
    wait_growth: list[GrowthRow] = []
    for backend in config.backends:
        with store_opener(backend, config) as opener:
            operations += measure_operations(backend, opener, config)
            event_growth += measure_event_growth(backend, opener, config)
            wait_growth += measure_wait_growth(backend, opener, config)
    return operations, event_growth, wait_growth


def postgres_version(base_url: str) -> str:
    with psycopg.connect(libpq_url(base_url)) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def library_revision() -> str:
    """The commit measured, marked dirty when the library's folders have local changes."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "adapters", "domain", "projections")
    return f"{commit} (dirty)" if dirty else commit


def header_line(config: Config, argv: Sequence[str]) -> str:
    command = shlex.join(["python", "-m", "benchmarks.bench_store", *argv])
    versions = [
        f"Python {platform.python_version()}",
        f"eventsourcing {version('eventsourcing')}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    if "postgres" in config.backends:
        versions.append(f"PostgreSQL {postgres_version(config.pg_url)}")
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"`{command}` — {date} — commit {library_revision()} — {', '.join(versions)} — "
        "figures are from a 2-core shared (noisy) machine; one thread, calls in series."
    )


def fmt_us(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def stats_cells(stats: Stats) -> list[str]:
    return [f"{stats.ops_per_s:,.0f}", fmt_us(stats.p50_us), fmt_us(stats.p99_us)]


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] * 2 + ["--:"] * (len(head) - 2)
    return ["| " + " | ".join(cells) + " |" for cells in [head, align, *rows]]


def operations_section(results: Results) -> list[str]:
    config = results.config
    title = (
        f"## Operations (each: {config.seconds:g} s of calls or {config.max_calls:,} calls, "
        "whichever first)"
    )
    head = ["Backend", "Operation", "ops/s", "p50 µs", "p99 µs"]
    rows = [[r.backend, r.operation, *stats_cells(r.stats)] for r in results.operations]
    return [title, "", *table(head, rows)]


def growth_section(title: str, small: str, large: str, rows: list[GrowthRow]) -> list[str]:
    head = [
        "Backend",
        "Operation",
        f"{small}: ops/s",
        "p50 µs",
        "p99 µs",
        f"{large}: ops/s",
        "p50 µs",
        "p99 µs",
        f"p50 ratio ({large}/{small})",
        "p99 ratio",
    ]
    cells = [
        [
            r.backend,
            r.operation,
            *stats_cells(r.small),
            *stats_cells(r.large),
            f"{r.p50_ratio:.2f}",
            f"{r.p99_ratio:.2f}",
        ]
        for r in rows
    ]
    return [title, "", *table(head, cells)]


def render(results: Results) -> str:
    config = results.config
    events_title = (
        f"## Session length: 1 event vs {config.events:,} events (`--events`; update_session "
        "on the long session appends to it, on the short side each call gets a fresh session; "
        f"sides alternate in {ROUNDS} rounds)"
    )
    waits_title = (
        f"## Store size: {config.baseline_waits:,} vs {config.waits:,} other waits "
        f"(`--waits`; the looked-up user has {FEW_WAITS} waits; two stores, measured in "
        f"{ROUNDS} alternating rounds)"
    )
    lines = [
        results.header,
        "",
        *operations_section(results),
        "",
        *growth_section(events_title, "1 event", f"{config.events:,} events", results.event_growth),
        "",
        *growth_section(
            waits_title,
            f"{config.baseline_waits:,} waits",
            f"{config.waits:,} waits",
            results.wait_growth,
        ),
        "",
        f"Whole run: {results.elapsed_s:.0f} s; 1-minute load average {results.load_before:.1f} "
        f"before, {results.load_after:.1f} after.",
    ]
    return "\n".join(lines)


def to_json(results: Results) -> dict[str, Any]:
    config = asdict(results.config)
    config["json_path"] = None if results.config.json_path is None else str(config["json_path"])
    growth = {
        "event_growth": results.event_growth,
        "wait_growth": results.wait_growth,
    }
    return {
        "header": results.header,
        "config": config,
        "elapsed_s": results.elapsed_s,
        "load_average_1min": {"before": results.load_before, "after": results.load_after},
        "operations": [asdict(row) for row in results.operations],
        **{
            name: [{**asdict(r), "p50_ratio": r.p50_ratio, "p99_ratio": r.p99_ratio} for r in rows]
            for name, rows in growth.items()
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    config = parse_config(argv)
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    header = header_line(config, argv)
    operations, event_growth, wait_growth = run(config)
    elapsed = time.perf_counter() - started
    results = Results(
        header,
        config,
        operations,
        event_growth,
        wait_growth,
        elapsed,
        load_before,
        os.getloadavg()[0],
    )
    print(render(results))
    if config.json_path is not None:
        config.json_path.parent.mkdir(parents=True, exist_ok=True)
        config.json_path.write_text(json.dumps(to_json(results), indent=2) + "\n")


if __name__ == "__main__":
    main()
