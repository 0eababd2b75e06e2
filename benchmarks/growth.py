"""Growth: does a read cost more when a session is long or the store is full?

- `get_session` on sessions with 1 / 100 / 10,000 events, beside plain eventsourcing's
  `repository.get` (a replay) of sessions as long;
- `find_wait_by_scope` and `list_waits_for_user` for a user with 5 waits, in stores
  holding 100 / 10,000 / 100,000 other waits, beside the floor with the same rows.
All sizes of a study are measured in alternating rounds (see `timing.measure_sides`).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from functools import partial

from benchmarks.config import Config
from benchmarks.databases import Databases
from benchmarks.floors import open_floor
from benchmarks.inputs import add_wait, ctx_of, data_of
from benchmarks.plain_eventsourcing import gets, open_plain, session_with_events
from benchmarks.seeding import seed_floor, seed_store
from benchmarks.timing import Prepare, Row, Stats, cycle_calls, measure_sides
from benchmarks.workloads import FEW_WAITS, find_calls, list_calls
from greentic_session import SessionKey, SessionStore, open_store

Side = tuple[str, str, str, int]  # subject, operation, variant, size


def long_session(store: SessionStore, events: int) -> SessionKey:
    """A session created, then updated `events - 1` times, through the store's API."""
    key = store.create_session(ctx_of("long-lived"), data_of("long-lived", 0))
    for step in range(1, events):
        store.update_session(key, data_of("long-lived", step))
    return key


def event_growth(backend: str, dbs: Databases, config: Config) -> list[Row]:
    sides: dict[Side, Prepare] = {}
    with ExitStack() as stack:
        store = stack.enter_context(open_store(dbs.new_url(backend)))
        plain = open_plain(dbs.new_url(backend, "es"))
        stack.callback(plain.close)
        for events in config.event_sizes:
            label = f"{events:,} event{'s' if events > 1 else ''}"
            key = long_session(store, events)
            get = cycle_calls([partial(store.get_session, key)])
            sides["ours", "get_session", label, events] = get
            plain_id = session_with_events(plain, events)
            sides["eventsourcing", "get_session", label, events] = gets(plain, [plain_id])
        found = measure_sides(sides, config.seconds, config.max_calls)
    return rows("event_growth", backend, found)


def rows(section: str, backend: str, found: dict[Side, Stats]) -> list[Row]:
    return [Row(section, backend, op, who, label, s, n) for (who, op, label, n), s in found.items()]


def seed_workers(backend: str, config: Config) -> int:
    """SQLite has one writer at a time: two processes keep it busy; more only queue."""
    return {"memory": 1, "sqlite": min(2, config.seed_workers)}.get(backend, config.seed_workers)


def wait_growth(backend: str, dbs: Databases, config: Config) -> list[Row]:
    deadline = time.time() + config.seed_seconds
    sides: dict[Side, Prepare] = {}
    with ExitStack() as stack:
        for others in config.wait_sizes:
            url = dbs.new_url(backend)
            store: SessionStore = stack.enter_context(open_store(url))
            floor = stack.enter_context(open_floor(dbs.new_url(backend, "floor")))
            ours = [add_wait(store, "target") for _ in range(FEW_WAITS)]
            seeded = seed_store(url, store, others, deadline, seed_workers(backend, config))
            label = f"{seeded:,} waits" + (
                "" if seeded == others else f" (of {others:,}: time box)"
            )
            floors = [add_wait(floor, "target") for _ in range(FEW_WAITS)]
            seed_floor(floor, others)
            floor_label = f"{others:,} waits"
            sides["ours", "find_wait_by_scope", label, seeded] = find_calls(store, ours)
            sides["ours", "list_waits_for_user", label, seeded] = list_calls(store, ours)
            sides["floor", "find_wait_by_scope", floor_label, others] = find_calls(floor, floors)
            sides["floor", "list_waits_for_user", floor_label, others] = list_calls(floor, floors)
        found = measure_sides(sides, config.seconds, config.max_calls)
    return rows("wait_growth", backend, found)
