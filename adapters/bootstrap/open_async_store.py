"""`open_async_store(url)`: the async store, on the URLs and options of `open_store`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from greentic_session.adapters.bootstrap.open_store import open_store
from greentic_session.adapters.bootstrap.urls import parse_store_url, resolve_url
from greentic_session.adapters.service.async_session_store import AsyncSessionStore
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.adapters.storage.database_errors import database_errors
from greentic_session.adapters.storage.postgres import PostgresSessionRecorder
from greentic_session.adapters.storage.postgres_async import AsyncPostgresPorts
from greentic_session.adapters.storage.postgres_deadline import (
    COMMAND_TIMEOUT,
    DEFAULT_COMMAND_TIMEOUT,
)
from greentic_session.domain.rules import Clock


def open_async_store(
    url: str | None = None,
    *,
    create: bool = True,
    clock: Clock | None = None,
    encryption_key: str | None = None,
    max_context_bytes: int | None = None,
) -> OpeningAsyncStore:
    """Open the store at `url` for asyncio: `async with open_async_store(url) as store:`,
    or `store = await open_async_store(url)` and later `await store.close()`.

    The same URLs, options and defaults as `open_store`. On PostgreSQL the operations run
    on psycopg's `AsyncConnectionPool` (`pool_size`, `max_overflow` in the URL), each call
    bounded by the URL option `command_timeout` (seconds, default 30; 0: no limit). The
    store's set-up (tables, key check) runs on its worker thread, never on the loop.

    Raises `SessionError` as `open_store` does: `invalid_input`, `unauthenticated`,
    `permission_denied`, `not_found` (with `create=False`), `unavailable`.
    """

    def open_sync() -> EventSourcedSessionStore:
        return open_store(
            url,
            create=create,
            clock=clock,
            encryption_key=encryption_key,
            max_context_bytes=max_context_bytes,
        )

    return OpeningAsyncStore(lambda: _opened(url, open_sync))


class OpeningAsyncStore:
    """What `open_async_store` returns: awaitable, and an async context manager."""

    def __init__(self, opening: Callable[[], Awaitable[AsyncSessionStore]]) -> None:
        self._opening = opening
        self._store: AsyncSessionStore | None = None

    def __await__(self) -> Generator[Any, None, AsyncSessionStore]:
        return self._opening().__await__()

    async def __aenter__(self) -> AsyncSessionStore:
        self._store = await self._opening()
        return self._store

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._store is not None:
            await self._store.close()


async def _opened(
    url: str | None, open_sync: Callable[[], EventSourcedSessionStore]
) -> AsyncSessionStore:
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="greentic-session")
    loop = asyncio.get_running_loop()
    opening = loop.run_in_executor(worker, open_sync)
    try:
        twin = await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_when_opened)
        worker.shutdown(wait=False)
        raise
    except BaseException:
        worker.shutdown(wait=False)
        raise
    try:
        native = await _native_ports(url, twin)
    except BaseException:
        await loop.run_in_executor(worker, twin.close)
        worker.shutdown(wait=False)
        raise
    return AsyncSessionStore(twin, worker, native)


async def _native_ports(
    url: str | None, twin: EventSourcedSessionStore
) -> AsyncPostgresPorts | None:
    recorder = twin.session_log.recorder
    if not isinstance(recorder, PostgresSessionRecorder):
        return None
    settings = parse_store_url(resolve_url(url)).postgres
    timeout = float(settings.get(COMMAND_TIMEOUT, DEFAULT_COMMAND_TIMEOUT))
    ports = AsyncPostgresPorts(recorder, twin.session_log.mapper, timeout)
    with database_errors("opening the async PostgreSQL pool"):
        await ports.open()
    return ports


def _close_when_opened(opening: Future[EventSourcedSessionStore] | Any) -> None:
    """A task cancelled while its store opened: the store, once open, is closed."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()
