"""`SessionStore` on the event log: one implementation for every backend.

Each operation loads what it needs from the read models, lets the `Session` aggregate
decide (all rules live in `domain`), and saves the events with their read-model changes
in one transaction. Backends differ only in the recorder and the reader they plug in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import IO, TypeVar
from uuid import uuid4

from greentic_session.adapters.service.audit_trail import AuditTrail
from greentic_session.adapters.service.store_options import StoreOptions
from greentic_session.adapters.service.unit_of_work import UnitOfWork, WriteLoop
from greentic_session.adapters.storage.database_errors import database_errors
from greentic_session.adapters.storage.session_log import OpenedLog
from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import Explanation, SessionDiff, SessionEvent, VerifyReport
from greentic_session.domain.errors import ErrorCode, SessionError, invalid_input, not_found
from greentic_session.domain.identifiers import SessionKey, TenantId, UserId
from greentic_session.domain.operation import trace_of
from greentic_session.domain.progress import Progress, no_progress
from greentic_session.domain.rules import (
    ensure_context_size,
    expect,
    expected_version_arg,
    is_expired,
    is_live,
    scope_key,
    user_key,
    version_arg,
)
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.store import AuditedSessionStore
from greentic_session.domain.takeover import WaitRequest, rival_of, take_scope
from greentic_session.domain.tenant import TenantCtx
from greentic_session.projections.read_models import MemoryReadModels
from greentic_session.projections.replay import rebuild

T = TypeVar("T")


class EventSourcedSessionStore(AuditedSessionStore):
    def __init__(
        self,
        opened: OpenedLog,
        options: StoreOptions | None = None,
    ) -> None:
        """Raises `SessionError(unauthenticated)` or `(invalid_input)` when the log's first
        event does not decrypt with this store's key (or needs one it was not given)."""
        options = options or StoreOptions()
        log_app = opened.log
        self._log = log_app
        self._max_context_bytes = options.max_context_bytes
        self._models = opened.read_models
        self._audit = AuditTrail(log_app, opened.log_access)
        self._audit.check_key()
        self._clock = options.clock
        self._writer = WriteLoop(log_app, opened.read_models, self._clock)
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

    # -- writes ------------------------------------------------------------------

    def create_session(self, ctx: TenantCtx, data: SessionData) -> SessionKey:
        ctx = expect(ctx, TenantCtx, "ctx")
        data = self._data(data)

        def create(unit: UnitOfWork) -> SessionKey:
            key = SessionKey(str(uuid4()))
            unit.add(Session.start(ctx, key, data, unit.op))
            return key

        return self._write(create, ctx)

    def update_session(
        self, key: SessionKey | str, data: SessionData, *, expected_version: int | None = None
    ) -> None:
        key = SessionKey(key)
        data = self._data(data)
        expected = expected_version_arg(expected_version)

        def update(unit: UnitOfWork) -> None:
            # A version check needs the stored version, never this process's cached one.
            session = unit.load(key, fresh=expected is not None)
            if session is None:
                raise not_found(key)
            session.update(data, unit.op, expected)

        self._write(update, data.tenant_ctx)

    def remove_session(self, key: SessionKey | str) -> None:
        key = SessionKey(key)

        def remove(unit: UnitOfWork) -> None:
            session = unit.load(key)
            if session is None:
                raise not_found(key)
            session.remove(unit.op)

        self._write(remove, None)

    def register_wait(
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
        user, scope, key = UserId(user_id), _scope(scope), SessionKey(session_key)
        data = self._data(data)
        wait = WaitRequest(ctx, user, scope, data, ttl, expect(if_absent, bool, "if_absent"))

        def register(unit: UnitOfWork) -> None:
            session = unit.load(key)
            if session is None:
                session = Session.start(ctx, key, data, unit.op)
                unit.add(session)
            entry = unit.scope_entry(wait.scope_key)
            holder = None if entry is None else entry.session_key
            rival_key = rival_of(holder, key)
            # The rival as stored, never the cached state: `take_scope` says why.
            rival = None if rival_key is None else unit.load(rival_key, fresh=True)
            take_scope(session, wait, unit.op, holder=holder, rival=rival)

        self._write(register, ctx)

    def clear_wait(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> None:
        ctx = expect(ctx, TenantCtx, "ctx")
        lookup = scope_key(ctx, UserId(user_id), _scope(scope))

        def clear(unit: UnitOfWork) -> None:
            holder = unit.scope_entry(lookup)
            session = None if holder is None else unit.load(SessionKey(holder.session_key))
            if session is not None:
                session.clear_wait(lookup, unit.op)

        self._write(clear, ctx)

    # -- audit and debugging ---------------------------------------------------------

    def history(self, key: SessionKey | str) -> list[SessionEvent]:
        key = SessionKey(key)
        with self._database("history"):
            return self._audit.history(key)

    def get_session_at(
        self,
        key: SessionKey | str,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ) -> SessionData | None:
        key = SessionKey(key)
        if version is not None and at is not None:
            raise invalid_input("give a version or an instant, not both")
        if version is not None:
            version_arg(version, "version")
        at = None if version is not None else self._instant(at)
        with self._database("get_session_at"):
            return self._audit.session_at(key, version, at)

    def diff(self, key: SessionKey | str, v1: int, v2: int) -> SessionDiff:
        key = SessionKey(key)
        version_arg(v1, "v1")
        version_arg(v2, "v2")
        with self._database("diff"):
            return self._audit.diff(key, v1, v2)

    def explain(
        self,
        ctx: TenantCtx,
        user_id: UserId | str,
        scope: ReplyScope,
        *,
        at: datetime | None = None,
    ) -> Explanation:
        ctx, user, scope = expect(ctx, TenantCtx, "ctx"), UserId(user_id), _scope(scope)
        instant = self._instant(at)
        with self._database("explain"):
            return self._audit.explain(ctx, user, scope, instant)

    def verify(self, *, progress: Progress | None = None) -> VerifyReport:
        with self._database("verify"):
            return self._audit.verify(progress or no_progress)

    def rebuild_projections(self, *, progress: Progress | None = None) -> None:
        with self._database("rebuild_projections"):
            self._audit.rebuild_projections(progress or no_progress)

    def sweep_expired(self, now: datetime | None = None) -> int:
        instant = self._instant(now)
        if instant > self._clock():
            raise invalid_input("sweep_expired: now is later than the store's clock")
        with self._database("sweep_expired"):
            due = self._models.due_sessions(instant)

        def expire(key: SessionKey) -> Callable[[UnitOfWork], bool]:
            def command(unit: UnitOfWork) -> bool:
                session = unit.load(key)
                return session is not None and session.expire_if_due(unit.op)

            return command

        return sum(self._write(expire(SessionKey(key)), None, instant) for key in due)

    def export_events(self, fp: IO[str], *, tenant: TenantId | str | None = None) -> int:
        tenant = None if tenant is None else TenantId(tenant)
        with self._database("export_events"):
            return self._audit.export_events(fp, tenant)

    def import_events(self, fp: IO[str]) -> int:
        with self._database("import_events"):
            return self._audit.import_events(fp)

    def events(self) -> Iterator[Session.Event]:
        """Every event in the log, in log (commit) order."""
        with self._database("reading the log"):
            for _, event in self._audit.logged_events():
                yield event

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

    def _write(
        self,
        command: Callable[[UnitOfWork], T],
        ctx: TenantCtx | None,
        now: datetime | None = None,
    ) -> T:
        """`ctx`: the caller's context, whose trace ids the events carry."""
        with self._database("write"):
            return self._writer.run(command, trace_of(ctx), now)

    def _data(self, data: object) -> SessionData:
        data = expect(data, SessionData, "data")
        ensure_context_size(data, self._max_context_bytes)
        return data

    def _instant(self, at: datetime | None) -> datetime:
        if at is None:
            return self._clock()
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise invalid_input("instants must be timezone-aware datetimes")
        return at


def _scope(scope: object) -> ReplyScope:
    return expect(scope, ReplyScope, "scope")
