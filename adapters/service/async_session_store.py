"""`AsyncSessionStore`: every operation of the sync store as a coroutine, for asyncio
runtimes (webhook handlers, bot frameworks, async agent graphs).

The operations that read the read models or write are `SessionOperations`, the very
coroutines the sync store runs: on PostgreSQL over psycopg's async pool (no thread, no
lock: N tasks use up to the pool's size of connections), on SQLite and memory over the
sync backend's calls run one at a time on the store's own worker thread. The audit
tools over the whole log (history, verify, export...) are the sync store's, run on that
worker thread: they never block the event loop.

Cancelled at any await, a call leaves nothing half-written: each write is one
transaction, sent whole or not at all; a cancelled task may not know whether its write
committed (read it back), exactly as after a lost connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from types import TracebackType
from typing import IO, Any, Self, TypeVar

from greentic_session.adapters.service.session_operations import SessionOperations, closed_store
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.adapters.storage.database_errors import database_errors
from greentic_session.adapters.storage.postgres_async import AsyncPostgresPorts
from greentic_session.domain.audit import (
    ArchiveReport,
    ErasureReport,
    Explanation,
    SessionDiff,
    SessionEvent,
    VerifyReport,
)
from greentic_session.domain.identifiers import EnvId, SessionKey, TeamId, TenantId, UserId
from greentic_session.domain.progress import Progress
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.session_search import SessionPage, SessionStateFilter
from greentic_session.domain.stored_session import StoredSession
from greentic_session.domain.tenant import TenantCtx
from greentic_session.projections.read_models import MemoryReadModels

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def _documented_as(sync: Callable[..., Any]) -> Callable[[F], F]:
    """The sync operation's documentation, once, for its coroutine."""

    def document(method: F) -> F:
        method.__doc__ = (
            f"Awaitable `{sync.__name__}`: the same arguments, result and errors.\n\n"
            f"{sync.__doc__ or ''}"
        )
        return method

    return document


_SYNC = EventSourcedSessionStore


class AsyncSessionStore:
    """The session store for asyncio; `open_async_store(url)` builds one.

    Every coroutine raises what its sync namesake raises (`SessionError` with a code),
    and on PostgreSQL `SessionError(timeout)` past the URL's `command_timeout`.
    """

    def __init__(
        self,
        twin: EventSourcedSessionStore,
        worker: ThreadPoolExecutor,
        native: AsyncPostgresPorts | None,
    ) -> None:
        """`twin`: the sync store on the same database, whose audit tools run on `worker`;
        `native`: the async PostgreSQL ports, or None to run the sync backend's calls on
        `worker` (SQLite, memory)."""
        self._twin = twin
        self._worker = worker
        self._native = native
        ports = native or twin.log_ports(self._in_worker, asyncio.sleep)
        self._ops = SessionOperations(ports, twin.options)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the session store -----------------------------------------------------------

    @_documented_as(_SYNC.create_session)
    async def create_session(self, ctx: TenantCtx, data: SessionData) -> SessionKey:
        return await self._ops.create_session(ctx, data)

    @_documented_as(_SYNC.get_session)
    async def get_session(self, key: SessionKey | str) -> SessionData | None:
        return await self._ops.get_session(key)

    @_documented_as(_SYNC.read_session)
    async def read_session(self, key: SessionKey | str) -> StoredSession | None:
        return await self._ops.read_session(key)

    @_documented_as(_SYNC.update_session)
    async def update_session(
        self, key: SessionKey | str, data: SessionData, *, expected_version: int | None = None
    ) -> None:
        await self._ops.update_session(key, data, expected_version=expected_version)

    @_documented_as(_SYNC.remove_session)
    async def remove_session(self, key: SessionKey | str, *, ctx: TenantCtx | None = None) -> None:
        await self._ops.remove_session(key, ctx=ctx)

    @_documented_as(_SYNC.register_wait)
    async def register_wait(
        self,
        ctx: TenantCtx,
        user_id: UserId | str,
        scope: ReplyScope,
        session_key: SessionKey | str,
        data: SessionData,
        ttl: timedelta | None = None,
        *,
        if_absent: bool = False,
    ) -> None:
        await self._ops.register_wait(
            ctx, user_id, scope, session_key, data, ttl, if_absent=if_absent
        )

    @_documented_as(_SYNC.find_wait_by_scope)
    async def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope
    ) -> SessionKey | None:
        return await self._ops.find_wait_by_scope(ctx, user_id, scope)

    @_documented_as(_SYNC.list_waits_for_user)
    async def list_waits_for_user(self, ctx: TenantCtx, user_id: UserId | str) -> list[SessionKey]:
        return await self._ops.list_waits_for_user(ctx, user_id)

    @_documented_as(_SYNC.clear_wait)
    async def clear_wait(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> None:
        await self._ops.clear_wait(ctx, user_id, scope)

    @_documented_as(_SYNC.find_by_user)
    async def find_by_user(
        self, ctx: TenantCtx, user: UserId | str
    ) -> tuple[SessionKey, SessionData] | None:
        return await self._ops.find_by_user(ctx, user)

    @_documented_as(_SYNC.keys_with_prefix)
    async def keys_with_prefix(self, prefix: str, *, limit: int = 10) -> list[SessionKey]:
        return await self._ops.keys_with_prefix(prefix, limit=limit)

    @_documented_as(_SYNC.sessions_due)
    async def sessions_due(self, now: datetime | None = None) -> list[SessionKey]:
        return await self._ops.sessions_due(now)

    @_documented_as(_SYNC.sweep_expired)
    async def sweep_expired(
        self,
        now: datetime | None = None,
        *,
        ctx: TenantCtx | None = None,
        progress: Progress | None = None,
    ) -> int:
        return await self._ops.sweep_expired(now, ctx=ctx, progress=progress)

    # -- the audit tools, on the worker thread ------------------------------------------

    @_documented_as(_SYNC.history)
    async def history(
        self,
        key: SessionKey | str,
        *,
        from_version: int | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> list[SessionEvent]:
        return await self._in_worker(
            lambda: self._twin.history(key, from_version=from_version, limit=limit, reverse=reverse)
        )

    @_documented_as(_SYNC.find_sessions)
    async def find_sessions(
        self,
        *,
        env: EnvId | str | None = None,
        tenant: TenantId | str | None = None,
        team: TeamId | str | None = None,
        user: UserId | str | None = None,
        flow: str | None = None,
        conversation: str | None = None,
        state: SessionStateFilter | str = "any",
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> SessionPage:
        return await self._in_worker(
            lambda: self._twin.find_sessions(
                env=env,
                tenant=tenant,
                team=team,
                user=user,
                flow=flow,
                conversation=conversation,
                state=state,
                updated_since=updated_since,
                updated_before=updated_before,
                limit=limit,
                after=after,
            )
        )

    @_documented_as(_SYNC.log_position)
    async def log_position(self) -> int:
        return await self._in_worker(self._twin.log_position)

    @_documented_as(_SYNC.events_after)
    async def events_after(
        self,
        position: int,
        *,
        limit: int = 100,
        tenant: TenantId | str | None = None,
        user: UserId | str | None = None,
        session: SessionKey | str | None = None,
    ) -> list[SessionEvent]:
        return await self._in_worker(
            lambda: self._twin.events_after(
                position, limit=limit, tenant=tenant, user=user, session=session
            )
        )

    @_documented_as(_SYNC.get_session_at)
    async def get_session_at(
        self,
        key: SessionKey | str,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ) -> SessionData | None:
        return await self._in_worker(lambda: self._twin.get_session_at(key, version=version, at=at))

    @_documented_as(_SYNC.diff)
    async def diff(self, key: SessionKey | str, v1: int, v2: int) -> SessionDiff:
        return await self._in_worker(lambda: self._twin.diff(key, v1, v2))

    @_documented_as(_SYNC.explain)
    async def explain(
        self,
        ctx: TenantCtx,
        user_id: UserId | str,
        scope: ReplyScope,
        *,
        at: datetime | None = None,
    ) -> Explanation:
        return await self._in_worker(lambda: self._twin.explain(ctx, user_id, scope, at=at))

    @_documented_as(_SYNC.verify)
    async def verify(self, *, progress: Progress | None = None) -> VerifyReport:
        return await self._in_worker(lambda: self._twin.verify(progress=progress))

    @_documented_as(_SYNC.archive)
    async def archive(
        self,
        *,
        ended_before: datetime,
        to: IO[str],
        ctx: TenantCtx | None = None,
        progress: Progress | None = None,
    ) -> ArchiveReport:
        return await self._in_worker(
            lambda: self._twin.archive(ended_before=ended_before, to=to, ctx=ctx, progress=progress)
        )

    @_documented_as(_SYNC.erase)
    async def erase(
        self,
        *,
        session: SessionKey | str | None = None,
        env: EnvId | str | None = None,
        tenant: TenantId | str | None = None,
        team: TeamId | str | None = None,
        user: UserId | str | None = None,
        reason: str,
        ctx: TenantCtx | None = None,
        progress: Progress | None = None,
    ) -> ErasureReport:
        return await self._in_worker(
            lambda: self._twin.erase(
                session=session,
                env=env,
                tenant=tenant,
                team=team,
                user=user,
                reason=reason,
                ctx=ctx,
                progress=progress,
            )
        )

    @_documented_as(_SYNC.rebuild_projections)
    async def rebuild_projections(self, *, progress: Progress | None = None) -> None:
        await self._in_worker(lambda: self._twin.rebuild_projections(progress=progress))

    @_documented_as(_SYNC.export_events)
    async def export_events(
        self,
        fp: IO[str],
        *,
        tenant: TenantId | str | None = None,
        progress: Progress | None = None,
    ) -> int:
        return await self._in_worker(
            lambda: self._twin.export_events(fp, tenant=tenant, progress=progress)
        )

    @_documented_as(_SYNC.import_events)
    async def import_events(self, fp: IO[str], *, progress: Progress | None = None) -> int:
        return await self._in_worker(lambda: self._twin.import_events(fp, progress=progress))

    @_documented_as(_SYNC.replay_read_models)
    async def replay_read_models(self) -> MemoryReadModels:
        return await self._in_worker(self._twin.replay_read_models)

    @_documented_as(_SYNC.current_read_models)
    async def current_read_models(self) -> MemoryReadModels:
        return await self._in_worker(self._twin.current_read_models)

    def pool_stats(self) -> dict[str, int]:
        """On PostgreSQL, the async pool's figures (psycopg_pool's `get_stats()`:
        `pool_size` connections open, `pool_available` of them idle, `requests_waiting`
        for one...), for monitoring; `{}` on SQLite and memory. Raises nothing."""
        return {} if self._native is None else dict(self._native.pool.get_stats())

    async def close(self) -> None:
        """Releases the pool's connections and the worker thread; later calls raise
        `SessionError(unavailable)`. Closing twice is harmless.

        Raises `SessionError` when the database fails while closing."""
        if self._ops.closed:
            return
        self._ops.closed = True
        try:
            if self._native is not None:
                with database_errors("closing the store"):
                    await self._native.close()
            await asyncio.get_running_loop().run_in_executor(self._worker, self._twin.close)
        finally:
            self._worker.shutdown(wait=False)

    async def _in_worker(self, call: Callable[[], T]) -> T:
        """`call` on the store's worker thread; the loop goes on meanwhile."""
        if self._ops.closed:
            raise closed_store()
        return await asyncio.get_running_loop().run_in_executor(self._worker, call)
