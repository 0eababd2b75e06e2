"""Reading a session's version, as a runtime does before `update_session(expected_version=…)`:
`read_session` (one indexed read) against `history()` (a replay of the stream, the only way
to the version before `read_session`), on one session of 2,001 events; `get_session` of that
session and `update_session` of another as long beside them.

An update makes its session longer, so it runs on a session of its own: the replay of
`history` then measures the same 2,001 events in every round.
"""

from __future__ import annotations

import itertools
from functools import partial

from benchmarks.config import Config
from benchmarks.databases import Databases
from benchmarks.growth import long_session
from benchmarks.inputs import data_of
from benchmarks.timing import Call, Prepare, Row, cycle_calls, measure_sides
from greentic_session import SessionKey, SessionStore, open_store

EVENTS = 2_001
SECTION = "version"


def updates_of(store: SessionStore, key: SessionKey) -> Prepare:
    steps = itertools.count(EVENTS)

    def prepare(n: int) -> list[Call]:
        return [
            partial(store.update_session, key, data_of("long-lived", next(steps)))
            for _ in range(n)
        ]

    return prepare


def version_reads(backend: str, dbs: Databases, config: Config) -> list[Row]:
    with open_store(dbs.new_url(backend)) as store:
        key, other = long_session(store, EVENTS), long_session(store, EVENTS)
        read = store.read_session(key)
        assert read is not None and read.version == store.history(key)[-1].version == EVENTS
        sides = {
            "read_session": cycle_calls([partial(store.read_session, key)]),
            "history": cycle_calls([partial(store.history, key)]),
            "get_session": cycle_calls([partial(store.get_session, key)]),
            "update_session": updates_of(store, other),
        }
        found = measure_sides(sides, config.seconds, config.max_calls)
    label = f"{EVENTS:,} events"
    return [Row(SECTION, backend, op, "ours", label, stats, EVENTS) for op, stats in found.items()]
