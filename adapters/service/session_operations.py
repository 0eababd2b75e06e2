"""The store's operations, written once as coroutines over `StorePorts`: argument
checks, the lookups, and the commands (load, let the `Session` aggregate decide, append
the events with their read-model changes, retry on a clash). `EventSourcedSessionStore`
runs them without a loop (`run_sync`); `AsyncSessionStore` awaits them. The public
methods of those two classes document them (arguments, results, errors)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import uuid4

from greentic_session.adapters.service.store_options import StoreOptions
from greentic_session.adapters.service.store_ports import StorePorts
from greentic_session.adapters.service.unit_of_work import UnitOfWork, WriteLoop
from greentic_session.adapters.storage.database_errors import database_errors
from greentic_session.domain.aggregate import Session
from greentic_session.domain.errors import ErrorCode, SessionError, invalid_input, not_found
from greentic_session.domain.identifiers import SessionKey, UserId
from greentic_session.domain.operation import trace_of
from greentic_session.domain.progress import Progress, no_progress
from greentic_session.domain.rules import (
    ensure_context_size,
    expect,
    expected_version_arg,
    is_expired,
    is_live,
    only_wait,
    prefix_arg,
    scope_key,
    user_key,
)
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.stored_session import StoredSession
from greentic_session.domain.takeover import WaitRequest, rival_of, take_scope
from greentic_session.domain.tenant import TenantCtx

T = TypeVar("T")

SWEEP_BATCH = 100
"""Expiries a sweep records per transaction."""

Command = Callable[[UnitOfWork], Awaitable[T]]


class SessionOperations:
    """Every operation that reads the read models or writes the log, on one set of ports."""

    def __init__(self, ports: StorePorts, options: StoreOptions) -> None:
        self._ports = ports
        self._max_context_bytes = options.max_context_bytes
        self.clock = options.clock
        self._writer = WriteLoop(ports, options.clock)
        self.closed = False

    # -- reads -------------------------------------------------------------------

    async def get_session(self, key: SessionKey | str) -> SessionData | None:
        key = SessionKey(key)
        with self.database("get_session"):
            stored = await self._ports.session_data(key)
        if stored is None:
            return None
        data, expires_at = stored
        return data if is_live(data, expires_at, self.clock()) else None

    async def read_session(self, key: SessionKey | str) -> StoredSession | None:
        key = SessionKey(key)
        with self.database("read_session"):
            state = await self._ports.session_state(key)
        if state is None or not state.is_live(self.clock()):
            return None
        return StoredSession.of(state)

    async def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope
    ) -> SessionKey | None:
        lookup = scope_key(expect(ctx, TenantCtx, "ctx"), UserId(user_id), scope_arg(scope))
        with self.database("find_wait_by_scope"):
            entry = await self._ports.scope_entry(lookup)
        if entry is None or is_expired(entry.expires_at, self.clock()):
            return None
        return SessionKey(entry.session_key)

    async def list_waits_for_user(self, ctx: TenantCtx, user_id: UserId | str) -> list[SessionKey]:
        lookup = user_key(expect(ctx, TenantCtx, "ctx"), UserId(user_id))
        with self.database("list_waits_for_user"):
            entries = await self._ports.user_waits(lookup)
        now = self.clock()
        return [SessionKey(e.session_key) for e in entries if not is_expired(e.expires_at, now)]

    async def find_by_user(
        self, ctx: TenantCtx, user: UserId | str
    ) -> tuple[SessionKey, SessionData] | None:
        key = only_wait(await self.list_waits_for_user(ctx, user))
        data = None if key is None else await self.get_session(key)
        return None if key is None or data is None else (key, data)

    async def keys_with_prefix(self, prefix: str, *, limit: int = 10) -> list[SessionKey]:
        prefix, limit = prefix_arg(prefix, limit)
        with self.database("keys_with_prefix"):
            keys = await self._ports.keys_with_prefix(prefix, limit)
        return [SessionKey(key) for key in keys]

    async def sessions_due(self, now: datetime | None = None) -> list[SessionKey]:
        instant = self.instant(now)
        with self.database("sessions_due"):
            return [SessionKey(key) for key in await self._ports.due_sessions(instant)]

    # -- writes ------------------------------------------------------------------

    async def create_session(self, ctx: TenantCtx, data: SessionData) -> SessionKey:
        ctx = expect(ctx, TenantCtx, "ctx")
        data = self._data(data)

        async def create(unit: UnitOfWork) -> SessionKey:
            key = SessionKey(str(uuid4()))
            unit.add(Session.start(ctx, key, data, unit.op))
            return key

        return await self._write(create, ctx)

    async def update_session(
        self, key: SessionKey | str, data: SessionData, *, expected_version: int | None = None
    ) -> None:
        key = SessionKey(key)
        data = self._data(data)
        expected = expected_version_arg(expected_version)

        async def update(unit: UnitOfWork) -> None:
            # A version check needs the stored version, never this process's cached one.
            session = await unit.load(key, fresh=expected is not None)
            if session is None:
                raise not_found(key)
            session.update(data, unit.op, expected)

        await self._write(update, data.tenant_ctx)

    async def remove_session(self, key: SessionKey | str, *, ctx: TenantCtx | None = None) -> None:
        key = SessionKey(key)
        caller = caller_arg(ctx)

        async def remove(unit: UnitOfWork) -> None:
            session = await unit.load(key)
            if session is None:
                raise not_found(key)
            session.remove(unit.op)

        await self._write(remove, caller)

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
        ctx = expect(ctx, TenantCtx, "ctx")
        user, scope, key = UserId(user_id), scope_arg(scope), SessionKey(session_key)
        data = self._data(data)
        wait = WaitRequest(ctx, user, scope, data, ttl, expect(if_absent, bool, "if_absent"))

        async def register(unit: UnitOfWork) -> None:
            session = await unit.load(key)
            if session is None:
                session = Session.start(ctx, key, data, unit.op)
                unit.add(session)
            entry = await unit.scope_entry(wait.scope_key)
            holder = None if entry is None else entry.session_key
            rival_key = rival_of(holder, key)
            # The rival as stored, never the cached state: `take_scope` says why.
            rival = None if rival_key is None else await unit.load(rival_key, fresh=True)
            take_scope(session, wait, unit.op, holder=holder, rival=rival)

        await self._write(register, ctx)

    async def clear_wait(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> None:
        ctx = expect(ctx, TenantCtx, "ctx")
        lookup = scope_key(ctx, UserId(user_id), scope_arg(scope))

        async def clear(unit: UnitOfWork) -> None:
            holder = await unit.scope_entry(lookup)
            session = None if holder is None else await unit.load(SessionKey(holder.session_key))
            if session is not None:
                session.clear_wait(lookup, unit.op)

        await self._write(clear, ctx)

    async def sweep_expired(
        self,
        now: datetime | None = None,
        *,
        ctx: TenantCtx | None = None,
        progress: Progress | None = None,
    ) -> int:
        caller = caller_arg(ctx)
        instant = self.instant(now)
        if instant > self.clock():
            raise invalid_input("sweep_expired: now is later than the store's clock")
        report = progress or no_progress
        with self.database("sweep_expired"):
            due = await self._ports.due_sessions(instant)

        def expire(keys: list[str]) -> Command[int]:
            async def command(unit: UnitOfWork) -> int:
                expired = 0
                for key in keys:
                    session = await unit.load(SessionKey(key))
                    expired += session is not None and session.expire_if_due(unit.op)
                return expired

            return command

        expired = 0
        for start in range(0, len(due), SWEEP_BATCH):
            expired += await self._write(expire(due[start : start + SWEEP_BATCH]), caller, instant)
            report(min(start + SWEEP_BATCH, len(due)), len(due))
        report(len(due), len(due))
        return expired

    # -- shared by both stores ---------------------------------------------------------

    @contextmanager
    def database(self, where: str) -> Iterator[None]:
        """Every call that touches the database: refused once closed, errors translated."""
        if self.closed:
            raise closed_store()
        with database_errors(where):
            yield

    def instant(self, at: datetime | None) -> datetime:
        """`at`, checked, or the clock's now."""
        if at is None:
            return self.clock()
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise invalid_input("instants must be timezone-aware datetimes")
        return at

    async def _write(
        self, command: Command[T], ctx: TenantCtx | None, now: datetime | None = None
    ) -> T:
        """`ctx`: the caller's context, whose trace ids the events carry."""
        with self.database("write"):
            return await self._writer.run(command, trace_of(ctx), now)

    def _data(self, data: object) -> SessionData:
        data = expect(data, SessionData, "data")
        ensure_context_size(data, self._max_context_bytes)
        return data


def scope_arg(scope: object) -> ReplyScope:
    return expect(scope, ReplyScope, "scope")


def caller_arg(ctx: object) -> TenantCtx | None:
    """An optional caller context, for the trace ids of a write that needs no context."""
    return None if ctx is None else expect(ctx, TenantCtx, "ctx")


def closed_store() -> SessionError:
    return SessionError(ErrorCode.UNAVAILABLE, "this store is closed; open a new one and retry")
