"""The async stores the asyncio section drives, behind the few operations it calls.

- ours: `greentic_session.open_async_store` (native on PostgreSQL, psycopg's
  AsyncConnectionPool);
- the way out users had before it: the sync store with each call sent to asyncio's default
  thread pool (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Protocol

from benchmarks.databases import with_query
from greentic_session import (
    ReplyScope,
    SessionData,
    SessionKey,
    SessionStore,
    TenantCtx,
    open_async_store,
    open_store,
)


class AsyncStore(Protocol):
    """The operations of the turn and the update + get cycle, as coroutines."""

    async def create_session(self, ctx: TenantCtx, data: SessionData, /) -> SessionKey: ...

    async def get_session(self, key: SessionKey, /) -> SessionData | None: ...

    async def update_session(self, key: SessionKey, data: SessionData, /) -> None: ...

    async def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: str, scope: ReplyScope, /
    ) -> SessionKey | None: ...

    async def register_wait(
        self,
        ctx: TenantCtx,
        user_id: str,
        scope: ReplyScope,
        key: SessionKey,
        data: SessionData,
        ttl: timedelta | None,
        /,
    ) -> None: ...


@asynccontextmanager
async def ours_async(url: str, pool_size: int) -> AsyncIterator[AsyncStore]:
    """Our async store on `url`, its pool `pool_size` connections (PostgreSQL)."""
    sized = with_query(url, pool_size=str(pool_size)) if url.startswith("postgresql") else url
    async with open_async_store(sized) as store:
        yield store


class ToThreadStore:
    """The sync store, each call on asyncio's default thread pool: the loop stays free, but
    every call costs a thread hop and the pool's few threads bound the concurrency."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store

    async def create_session(self, ctx: TenantCtx, data: SessionData, /) -> SessionKey:
        return await asyncio.to_thread(self.store.create_session, ctx, data)

    async def get_session(self, key: SessionKey, /) -> SessionData | None:
        return await asyncio.to_thread(self.store.get_session, key)

    async def update_session(self, key: SessionKey, data: SessionData, /) -> None:
        await asyncio.to_thread(self.store.update_session, key, data)

    async def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: str, scope: ReplyScope, /
    ) -> SessionKey | None:
        return await asyncio.to_thread(self.store.find_wait_by_scope, ctx, user_id, scope)

    async def register_wait(self, *wait: Any) -> None:
        """The sync store's `register_wait` arguments, as the protocol passes them."""
        await asyncio.to_thread(self.store.register_wait, *wait)


@asynccontextmanager
async def ours_to_thread(url: str) -> AsyncIterator[AsyncStore]:
    """Our sync store on `url` (its default pool), called through `asyncio.to_thread`."""
    with open_store(url) as store:
        yield ToThreadStore(store)
