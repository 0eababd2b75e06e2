"""Filling a store with other users' waits for the growth study, through its public API.

Our store's waits are registered with `register_wait`, never written into its tables, so
its read models match its log. On SQLite and PostgreSQL several spawned processes each
open the store and register their share; memory:// lives in one process and is filled
by a loop. Seeding is time-boxed: it stops at the deadline and reports how many waits
were registered, and the report labels the store with that count.

The floors have no log: they are filled by `seed_new_waits`, one transaction of plain
INSERTs of the rows `register_wait` would write for new keys under new scopes.
"""

from __future__ import annotations

import multiprocessing
import time
from uuid import uuid4

from benchmarks.floor_common import FloorStore, Registration
from benchmarks.inputs import WAIT_TTL, ctx_of, data_of
from greentic_session import ReplyScope, SessionKey, SessionStore, open_store

OTHER_USERS = 1000
CHECK_EVERY = 50  # registrations between looks at the clock
FLOOR_BATCH = 5000


def other_wait(n: int) -> tuple[str, ReplyScope, SessionKey]:
    """The n-th other wait: one of 1,000 users, a scope and key no one else uses."""
    unique = uuid4().hex
    return (
        f"other-{n % OTHER_USERS:04d}",
        ReplyScope(conversation=f"seed-{unique}"),
        SessionKey(unique),
    )


def register_others(store: SessionStore, first: int, count: int, deadline: float) -> int:
    """Registers up to `count` other waits before `deadline` (time.time()); returns how many."""
    done = 0
    while done < count and (done % CHECK_EVERY or time.time() < deadline):
        user, scope, key = other_wait(first + done)
        store.register_wait(ctx_of(user), user, scope, key, data_of(user, 0), ttl=WAIT_TTL)
        done += 1
    return done


def _worker(url: str, first: int, count: int, deadline: float) -> int:
    with open_store(url) as store:
        return register_others(store, first, count, deadline)


def seed_store(url: str, store: SessionStore, count: int, deadline: float, workers: int) -> int:
    """`count` other waits into the store at `url` (`store` is it, opened): how many made it."""
    if count <= 0:
        return 0
    if url.startswith("memory:") or workers <= 1:
        return register_others(store, 0, count, deadline)
    shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
    firsts = [sum(shares[:i]) for i in range(workers)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        args = [(url, first, share, deadline) for first, share in zip(firsts, shares, strict=True)]
        return sum(pool.starmap(_worker, args))


def seed_floor(floor: FloorStore, count: int) -> None:
    """The same rows for the floor, in bulk (no deadline: it takes seconds)."""
    for start in range(0, count, FLOOR_BATCH):
        batch: list[Registration] = []
        for n in range(start, min(start + FLOOR_BATCH, count)):
            user, scope, key = other_wait(n)
            data = data_of(user, 0)
            batch.append(floor.check_register(ctx_of(user), user, scope, key, data, WAIT_TTL))
        floor.seed_new_waits(batch)
