"""The loop's lag when 50 store calls run at once in coroutines: the issue's before/after.

Before: the sync store called directly inside a coroutine, as a user's first async handler
does. The 50 tasks each make their call without yielding, so the loop (and every other
request on it) waits for all 50 in a row. After: the same 50 `update_session` calls,
awaited on our async store. Each is run `ROUNDS` times; the figures are the worst round's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from benchmarks.async_store import AsyncStore, ours_async
from benchmarks.bench_store import progress
from benchmarks.databases import Databases
from benchmarks.inputs import ctx_of, data_of, serial, spread_user
from benchmarks.loop_lag import Lag, LagMonitor
from greentic_session import SessionData, SessionKey, SessionStore, open_store

CALLS = 50
ROUNDS = 5
SETTLE_S = 0.005  # the monitor sleeps before and after the calls, so it sees them whole
Update = Callable[[SessionKey, SessionData], Awaitable[None]]


@dataclass(frozen=True)
class BlockingRow:
    backend: str
    caller: str  # how the store is called: "sync store in a coroutine", "async store"
    calls: int
    lag: Lag


async def lag_of_updates(update: Update, keys: list[SessionKey]) -> Lag:
    """ROUNDS times: len(keys) tasks at once, one update_session each, under the monitor."""
    lags = []
    for _ in range(ROUNDS):
        async with LagMonitor() as monitor:
            await asyncio.sleep(SETTLE_S)
            writes = [update(key, data_of(spread_user(i), serial())) for i, key in enumerate(keys)]
            await asyncio.gather(*writes)
            await asyncio.sleep(SETTLE_S)
        lags.append(monitor.lag())
    return Lag.worst_of(lags)


async def sync_in_coroutines(store: SessionStore) -> Lag:
    keys = [
        store.create_session(ctx_of(spread_user(i)), data_of(spread_user(i), 0))
        for i in range(CALLS)
    ]

    async def update(key: SessionKey, data: SessionData) -> None:
        store.update_session(key, data)  # blocks the loop: what the user did

    return await lag_of_updates(update, keys)


async def async_store_updates(store: AsyncStore) -> Lag:
    keys = [
        await store.create_session(ctx_of(spread_user(i)), data_of(spread_user(i), 0))
        for i in range(CALLS)
    ]
    return await lag_of_updates(store.update_session, keys)


async def blocking_rows(dbs: Databases, pool_size: int) -> list[BlockingRow]:
    """On SQLite and PostgreSQL: the sync store blocking the loop, then ours, awaited."""
    rows: list[BlockingRow] = []
    for backend in ("sqlite", "postgres"):
        progress(f"{backend}: {CALLS} calls at once, sync in coroutines and async")
        with open_store(dbs.new_url(backend, "blocking")) as store:
            lag = await sync_in_coroutines(store)
        rows.append(BlockingRow(backend, "sync store in a coroutine", CALLS, lag))
        async with ours_async(dbs.new_url(backend, "unblocked"), pool_size) as astore:
            lag = await async_store_updates(astore)
        rows.append(BlockingRow(backend, "async store, awaited", CALLS, lag))
    return rows
