"""Every operation and the turn, on our store and the floor of the same backend; and
`explain`, on our store alone (after every other workload's writes).

On memory:// the plain eventsourcing in-memory application is measured beside them:
`save` of a new aggregate (against create_session), an update command plus `save` on an
aggregate in hand (against update_session), and `repository.get` (against get_session).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from functools import partial

from benchmarks.config import Config
from benchmarks.databases import Databases
from benchmarks.floors import open_floor
from benchmarks.inputs import spread_user
from benchmarks.plain_eventsourcing import (
    PlainSessions,
    create_and_save,
    creates,
    gets,
    open_plain,
    snapshot,
    updates,
)
from benchmarks.timing import Prepare, Row, measure_sides
from benchmarks.workloads import AUDIT_WORKLOADS, READ_POOL, WORKLOADS
from greentic_session import open_store


def plain_gets(app: PlainSessions) -> Prepare:
    return gets(app, [create_and_save(app, snapshot(0, spread_user(i))) for i in range(READ_POOL)])


REFERENCE: dict[str, Callable[[PlainSessions], Prepare]] = {
    "create_session": creates,
    "get_session": plain_gets,
    "update_session": partial(updates, pool=READ_POOL),
}


def operations(backend: str, dbs: Databases, config: Config) -> list[Row]:
    rows: list[Row] = []
    with ExitStack() as stack:
        store = stack.enter_context(open_store(dbs.new_url(backend)))
        floor = stack.enter_context(open_floor(dbs.new_url(backend, "floor")))
        plain = open_plain("memory://") if backend == "memory" else None
        if plain is not None:
            stack.callback(plain.close)
        for operation, workload in WORKLOADS.items():
            sides = {"ours": workload(store), "floor": workload(floor)}
            if plain is not None and operation in REFERENCE:
                sides["eventsourcing"] = REFERENCE[operation](plain)
            for who, stats in measure_sides(sides, config.seconds, config.max_calls).items():
                rows.append(Row("operations", backend, operation, who, "", stats))
        for operation, audit in AUDIT_WORKLOADS.items():
            measured = measure_sides({"ours": audit(store)}, config.seconds, config.max_calls)
            rows += [Row("operations", backend, operation, "ours", "", measured["ours"])]
    return rows
