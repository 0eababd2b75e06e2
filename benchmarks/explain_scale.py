"""`explain` against the size of the log: it reads one scope's history and the streams it
names, so its time must not grow with the log.

The log is filled through the public API with the realistic mix of issue 11: each
session is created, updated with a ~1 KB context, waits on its own scope with a 1 h TTL,
is updated again, then is cleared (60%), removed (30%) or left waiting (10%): about 4.9
events a session. At each size the store is opened afresh and a sample of scopes spread
over the whole log is explained (a waiting, a cleared and a removed session's scope, and
a scope never registered, which also looks for near misses); with `--whole-log` the
replay of the whole log that `explain` used to do is timed beside it, once.

    python -m benchmarks.explain_scale --sizes 10000,100000 [--url sqlite:///path]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.inputs import WAIT_TTL, ctx_of, data_of, spread_user, unique_scope
from greentic_session import EventSourcedSessionStore, ReplyScope, TenantCtx, UserId, open_store
from greentic_session.projections import scope_explanation

SAMPLE = 40  # scopes explained at each size


@dataclass(frozen=True)
class Lookup:
    ctx: TenantCtx
    user: str
    scope: ReplyScope
    ending: str  # cleared, removed, waiting, never


def add_session(store: EventSourcedSessionStore, n: int) -> tuple[Lookup, int]:
    """One session of the mix; its lookup and how many events it wrote."""
    user = spread_user(n)
    ctx, scope = ctx_of(user), unique_scope()
    key = store.create_session(ctx, data_of(user, 0))
    store.update_session(key, data_of(user, 1))
    store.register_wait(ctx, user, scope, key, data_of(user, 2), ttl=WAIT_TTL)
    store.update_session(key, data_of(user, 3))
    kind = n % 10
    if kind < 6:
        store.clear_wait(ctx, user, scope)
        return Lookup(ctx, user, scope, "cleared"), 5
    if kind < 9:
        store.remove_session(key)
        return Lookup(ctx, user, scope, "removed"), 5
    return Lookup(ctx, user, scope, "waiting"), 4


def sample(lookups: list[Lookup]) -> list[Lookup]:
    """Scopes spread evenly over the log, from its first sessions to its last."""
    step = max(len(lookups) // SAMPLE, 1)
    chosen = lookups[::step][:SAMPLE]
    first = lookups[0]
    return [*chosen, Lookup(first.ctx, first.user, unique_scope("never"), "never")]


def measure(url: str, lookups: list[Lookup], whole_log: bool) -> dict[str, float]:
    with open_store(url) as store:
        assert isinstance(store, EventSourcedSessionStore)
        times_ms = []
        for lookup in lookups:
            started = time.perf_counter()
            explanation = store.explain(lookup.ctx, lookup.user, lookup.scope)
            times_ms.append((time.perf_counter() - started) * 1000)
            assert (explanation.session_key is not None) == (lookup.ending == "waiting")
        figures = {
            "first_ms": times_ms[0],  # a cold store: connections, caches
            "p50_ms": statistics.median(times_ms[1:]),
            "max_ms": max(times_ms[1:]),
        }
        if whole_log:
            lookup = lookups[0]
            started = time.perf_counter()
            old = scope_explanation.explain(
                ((0, e) for e in store.events()),
                lookup.ctx,
                UserId(lookup.user),
                lookup.scope,
                store.explain(lookup.ctx, lookup.user, lookup.scope).at,
            )
            figures["whole_log_ms"] = (time.perf_counter() - started) * 1000
            new = store.explain(lookup.ctx, lookup.user, lookup.scope, at=old.at)
            assert old == new, "explain must agree with the replay of the whole log"
    return figures


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explain_scale")
    parser.add_argument("--sizes", default="10000,100000", help="log sizes (events), rising")
    parser.add_argument("--url", default=None, help="a new store's URL (default: a temp SQLite)")
    parser.add_argument("--whole-log", action="store_true", help="also time the old replay")
    args = parser.parse_args(argv)
    sizes = [int(part.replace("_", "")) for part in args.sizes.split(",")]
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'explain-scale.db'}"
    lookups: list[Lookup] = []
    events = 0
    print("| events | sessions | first explain | explain p50 | explain max | whole-log replay |")
    print("|---|---|---|---|---|---|")
    with open_store(url) as store:
        assert isinstance(store, EventSourcedSessionStore)
        for size in sizes:
            while events < size:
                lookup, written = add_session(store, len(lookups))
                lookups.append(lookup)
                events += written
            figures = measure(url, sample(lookups), args.whole_log)
            whole = figures.get("whole_log_ms")
            print(
                f"| {events:,} | {len(lookups):,} | {figures['first_ms']:.2f} ms "
                f"| {figures['p50_ms']:.2f} ms "
                f"| {figures['max_ms']:.2f} ms "
                f"| {'-' if whole is None else f'{whole / 1000:.1f} s'} |",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
