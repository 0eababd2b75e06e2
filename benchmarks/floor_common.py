"""What the floor stores share: the contract's checks (from `domain`, which both sides pay)
and the lookup keys, times and rows of a plain session table without a log.

A floor keeps three things: sessions (key → owner, data, deadline, current wait), the
scope index (scope key → session, deadline) and each user's waits in registration order.
A session's *owner* is its (env, tenant, team, user) as one text: the context is
preserved exactly when the owner is unchanged, so an update checks it in its WHERE clause.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

from greentic_session import ReplyScope, SessionData, SessionKey, SessionStore, TenantCtx, UserId
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.rules import (
    Clock,
    deadline,
    ensure_alignment,
    ensure_wait_user,
    expect,
    scope_key,
    user_key,
    utc_now,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


class _Held(Generic[C]):
    """A thread's connection; closed when the thread ends (its locals are dropped)."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: C) -> None:
        self.connection = connection

    def __del__(self) -> None:
        self.connection.close()


class PerThread(Generic[C]):
    """One connection per thread, opened on first use: no pool to check out from."""

    def __init__(self, connect: Callable[[], C]) -> None:
        self._connect, self._local = connect, threading.local()
        self._all: weakref.WeakSet[_Held[C]] = weakref.WeakSet()

    def get(self) -> C:
        held: _Held[C] | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _Held(self._connect())
            self._all.add(held)
        return held.connection

    def close_all(self) -> None:
        for held in list(self._all):
            held.connection.close()


def micros(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - _EPOCH) // timedelta(microseconds=1)


def owner(ctx: TenantCtx) -> str:
    """Identifiers cannot contain '/', so the joined text is unambiguous."""
    return f"{ctx.env}/{ctx.tenant_id}/{ctx.normalized_team or ''}/{ctx.normalized_user or ''}"


def live(expires_at: int | None, now: int) -> bool:
    return expires_at is None or expires_at > now


@dataclass(frozen=True, slots=True)
class Registration:
    """A checked `register_wait` call: what to write, under which keys."""

    key: SessionKey
    owner: str
    data: SessionData
    user_key: str
    scope_key: str
    expires_at: int | None
    now: int


class FloorStore(SessionStore):
    """The checks and lookup keys of the contract; subclasses only store and fetch."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or utc_now
        self.closed = False

    def refuse_if_closed(self) -> None:
        if self.closed:
            raise SessionError(ErrorCode.UNAVAILABLE, "this store is closed; open a new one")

    def now(self) -> int:
        """Every call reads the clock or checks its input first: both refuse a closed store."""
        self.refuse_if_closed()
        moment = micros(self._clock())
        assert moment is not None
        return moment

    def close(self) -> None:
        self.closed = True

    def refuse_atomic_variant(self, asked: bool) -> None:
        """A floor measures the plain operations only: it keeps no versions to compare."""
        if asked:
            raise SessionError(
                ErrorCode.INVALID_INPUT,
                "floor stores are benchmark baselines without expected_version or if_absent",
            )

    def check_create(self, ctx: TenantCtx, data: SessionData) -> SessionData:
        self.refuse_if_closed()
        data = expect(data, SessionData, "data")
        ensure_alignment(expect(ctx, TenantCtx, "ctx"), data)
        return data

    def check_register(
        self,
        ctx: TenantCtx,
        user_id: UserId | str,
        scope: ReplyScope,
        session_key: SessionKey | str,
        data: SessionData,
        ttl: timedelta | None,
    ) -> Registration:
        self.refuse_if_closed()
        ctx, user = expect(ctx, TenantCtx, "ctx"), UserId(user_id)
        scope, data = expect(scope, ReplyScope, "scope"), expect(data, SessionData, "data")
        ensure_wait_user(ctx, user, data)
        now = self._clock()
        now_micros = micros(now)
        assert now_micros is not None
        return Registration(
            key=SessionKey(session_key),
            owner=owner(data.tenant_ctx),
            data=data,
            user_key=user_key(ctx, user),
            scope_key=scope_key(ctx, user, scope),
            expires_at=micros(deadline(now, ttl)),
            now=now_micros,
        )

    def seed_new_waits(self, regs: Sequence[Registration]) -> None:
        """Bulk set-up for the growth study: the rows of waits of new keys on new scopes."""
        raise NotImplementedError

    def user_lookup(self, ctx: TenantCtx, user_id: UserId | str) -> str:
        return user_key(expect(ctx, TenantCtx, "ctx"), UserId(user_id))

    def scope_lookup(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> str:
        scope = expect(scope, ReplyScope, "scope")
        return scope_key(expect(ctx, TenantCtx, "ctx"), UserId(user_id), scope)
