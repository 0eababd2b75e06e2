"""`SessionStore` on the event log: one implementation for every backend.

Each operation loads what it needs from the read models, lets the `Session` aggregate
decide (all rules live in `domain`), and saves the events with their read-model changes
in one transaction. Backends differ only in the recorder and the reader they plug in.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar
from uuid import uuid4

from adapters.application import SessionLog
from adapters.errors import database_errors
from adapters.unit_of_work import UnitOfWork, WriteLoop
from domain.aggregate import Session
from domain.errors import ErrorCode, SessionError, invalid_input, not_found
from domain.identifiers import SessionKey, UserId
from domain.rules import (
    Clock,
    deadline,
    expect,
    is_expired,
    is_live,
    scope_key,
    user_key,
    utc_now,
)
from domain.scope import ReplyScope
from domain.session import SessionData
from domain.store import SessionStore
from domain.tenant import TenantCtx
from projections.read_models import MemoryReadModels, ReadModelReader
from projections.replay import rebuild

T = TypeVar("T")

LOG_PAGE_SIZE = 1000


class EventSourcedSessionStore(SessionStore):
    def __init__(
        self,
        log_app: SessionLog,
        read_models: ReadModelReader,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._log = log_app
        self._models = read_models
        self._clock = clock or utc_now
        self._writer = WriteLoop(log_app, read_models, self._clock)
        self._closed = False

    # -- reads -------------------------------------------------------------------

    def get_session(self, key: SessionKey | str) -> SessionData | None:
        key = SessionKey(key)
        with self._database("get_session"):
            stored = self._models.session_data(key)
        if stored is None:
            return None
        data, expires_at = stored
        return data if is_live(data, expires_at, self._clock()) else None

    def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope
    ) -> SessionKey | None:
        lookup = scope_key(expect(ctx, TenantCtx, "ctx"), UserId(user_id), _scope(scope))
        with self._database("find_wait_by_scope"):
            entry = self._models.scope_entry(lookup)
        if entry is None or is_expired(entry.expires_at, self._clock()):
            return None
        return SessionKey(entry.session_key)

    def list_waits_for_user(self, ctx: TenantCtx, user_id: UserId | str) -> list[SessionKey]:
        lookup = user_key(expect(ctx, TenantCtx, "ctx"), UserId(user_id))
        with self._database("list_waits_for_user"):
            entries = self._models.user_waits(lookup)
        now = self._clock()
        return [SessionKey(e.session_key) for e in entries if not is_expired(e.expires_at, now)]

    def find_by_user(
        self, ctx: TenantCtx, user: UserId | str
    ) -> tuple[SessionKey, SessionData] | None:
        warnings.warn(
            "find_by_user is deprecated; use find_wait_by_scope or list_waits_for_user",
            DeprecationWarning,
            stacklevel=2,
        )
        keys = self.list_waits_for_user(ctx, user)
        if len(keys) > 1:
            raise invalid_input("multiple waits exist for user; use scope-based routing instead")
        if not keys:
            return None
        data = self.get_session(keys[0])
        return None if data is None else (keys[0], data)

    # -- writes ------------------------------------------------------------------

    def create_session(self, ctx: TenantCtx, data: SessionData) -> SessionKey:
        ctx = expect(ctx, TenantCtx, "ctx")
        data = expect(data, SessionData, "data")

        def create(unit: UnitOfWork) -> SessionKey:
            key = SessionKey(str(uuid4()))
            unit.add(Session.start(ctx, key, data))
            return key

        return self._write(create)

    def update_session(self, key: SessionKey | str, data: SessionData) -> None:
        key = SessionKey(key)
        data = expect(data, SessionData, "data")

        def update(unit: UnitOfWork) -> None:
            session = unit.load(key)
            if session is None:
                raise not_found(key)
            session.update(data, unit.now)

        self._write(update)

    def remove_session(self, key: SessionKey | str) -> None:
        key = SessionKey(key)

        def remove(unit: UnitOfWork) -> None:
            session = unit.load(key)
            if session is None:
                raise not_found(key)
            session.remove(unit.now)

        self._write(remove)

    def register_wait(
        self,
        ctx: TenantCtx,
        user_id: UserId | str,
        scope: ReplyScope,
        session_key: SessionKey | str,
        data: SessionData,
        ttl: timedelta | None = None,
    ) -> None:
        ctx = expect(ctx, TenantCtx, "ctx")
        user = UserId(user_id)
        scope = _scope(scope)
        key = SessionKey(session_key)
        data = expect(data, SessionData, "data")
        waits_key, wait_scope_key = user_key(ctx, user), scope_key(ctx, user, scope)

        def register(unit: UnitOfWork) -> None:
            session = unit.load(key)
            if session is None:
                session = Session.start(ctx, key, data)
                unit.add(session)
            holder = unit.scope_entry(wait_scope_key)
            session.register_wait(
                ctx,
                user,
                scope,
                data,
                deadline(unit.now, ttl),
                unit.now,
                user_key=waits_key,
                scope_key=wait_scope_key,
            )
            if holder is not None and holder.session_key != key:
                previous = unit.load(SessionKey(holder.session_key))
                if previous is not None:
                    previous.supersede(wait_scope_key, key, unit.now)

        self._write(register)

    def clear_wait(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> None:
        lookup = scope_key(expect(ctx, TenantCtx, "ctx"), UserId(user_id), _scope(scope))

        def clear(unit: UnitOfWork) -> None:
            holder = unit.scope_entry(lookup)
            session = None if holder is None else unit.load(SessionKey(holder.session_key))
            if session is not None:
                session.clear_wait(lookup, unit.now)

        self._write(clear)

    # -- the log -----------------------------------------------------------------

    def events(self) -> Iterator[Session.Event | Session.Created]:
        """Every event in the log, in log (commit) order."""
        start = 1
        while True:
            with self._database("reading the log"):
                page = self._log.recorder.select_notifications(start, LOG_PAGE_SIZE)
            for notification in page:
                event = self._log.mapper.to_domain_event(notification)
                assert isinstance(event, Session.Event | Session.Created)
                yield event
            if len(page) < LOG_PAGE_SIZE:
                return
            start = page[-1].id + 1

    def replay_read_models(self) -> MemoryReadModels:
        """The read models rebuilt from the log alone."""
        return rebuild(self.events())

    def current_read_models(self) -> MemoryReadModels:
        """The read models as stored (compare with `replay_read_models()`)."""
        with self._database("reading the read models"):
            return self._models.load_all()

    def close(self) -> None:
        """Release connections; later calls raise `unavailable`. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        with database_errors("closing the store"):
            self._log.close()

    @contextmanager
    def _database(self, where: str) -> Iterator[None]:
        """Every call that touches the database: refused once closed, errors translated."""
        if self._closed:
            raise SessionError(
                ErrorCode.UNAVAILABLE, "this store is closed; open a new one with open_store()"
            )
        with database_errors(where):
            yield

    def _write(self, command: Callable[[UnitOfWork], T]) -> T:
        with self._database("write"):
            return self._writer.run(command)


def _scope(scope: object) -> ReplyScope:
    return expect(scope, ReplyScope, "scope")
