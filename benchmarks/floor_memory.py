"""The floor for `memory://`: the contract on three dicts under one lock, no log.

Session data is kept as the (frozen) `SessionData` the caller passed: no copy, no JSON.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta
from uuid import uuid4

from benchmarks.floor_common import FloorStore, Registration, live, owner
from greentic_session import ReplyScope, SessionData, SessionKey, TenantCtx, UserId
from greentic_session.domain.errors import not_found
from greentic_session.domain.rules import Clock, ensure_preserved, expect


class _Row:
    __slots__ = ("data", "expires_at", "owner", "wait_scope_key", "wait_user_key")

    def __init__(self, owner: str, data: SessionData, expires_at: int | None = None) -> None:
        self.owner, self.data, self.expires_at = owner, data, expires_at
        self.wait_user_key: str | None = None
        self.wait_scope_key: str | None = None


class MemoryFloor(FloorStore):
    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()
        self._sessions: dict[str, _Row] = {}
        self._scopes: dict[str, tuple[str, int | None]] = {}
        self._waits: dict[str, dict[str, int | None]] = {}  # user key → key → deadline

    def create_session(self, ctx: TenantCtx, data: SessionData) -> SessionKey:
        data = self.check_create(ctx, data)
        key = SessionKey(str(uuid4()))
        with self._lock:
            self._sessions[key] = _Row(owner(data.tenant_ctx), data)
        return key

    def get_session(self, key: SessionKey | str) -> SessionData | None:
        key, now = SessionKey(key), self.now()
        with self._lock:
            row = self._sessions.get(key)
            return row.data if row is not None and live(row.expires_at, now) else None

    def update_session(
        self, key: SessionKey | str, data: SessionData, *, expected_version: int | None = None
    ) -> None:
        self.refuse_atomic_variant(expected_version is not None)
        key, data, now = SessionKey(key), expect(data, SessionData, "data"), self.now()
        with self._lock:
            row = self._sessions.get(key)
            if row is None or not live(row.expires_at, now):
                raise not_found(key)
            if row.owner != owner(data.tenant_ctx):
                ensure_preserved(row.data.tenant_ctx, data.tenant_ctx)
            row.data = data

    def remove_session(self, key: SessionKey | str, *, ctx: TenantCtx | None = None) -> None:
        """`ctx` is not used: a floor keeps no log to record who removed the session."""
        key, now = SessionKey(key), self.now()
        with self._lock:
            row = self._sessions.get(key)
            if row is None or not live(row.expires_at, now):
                raise not_found(key)
            del self._sessions[key]
            self._drop_wait(key, row)

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
        self.refuse_atomic_variant(if_absent)
        reg = self.check_register(ctx, user_id, scope, session_key, data, ttl)
        with self._lock:
            row = self._sessions.get(reg.key)
            if row is not None:
                if live(row.expires_at, reg.now) and row.owner != reg.owner:
                    ensure_preserved(row.data.tenant_ctx, reg.data.tenant_ctx)
                self._drop_wait(reg.key, row)
            holder = self._scopes.get(reg.scope_key)
            if holder is not None and holder[0] != reg.key:  # supersede the holder
                previous = self._sessions.get(holder[0])
                if previous is not None and previous.wait_scope_key == reg.scope_key:
                    self._drop_wait(holder[0], previous)
            self._insert(reg)

    def seed_new_waits(self, regs: Sequence[Registration]) -> None:
        with self._lock:
            for reg in regs:
                self._insert(reg)

    def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope
    ) -> SessionKey | None:
        lookup, now = self.scope_lookup(ctx, user_id, scope), self.now()
        with self._lock:
            entry = self._scopes.get(lookup)
        return SessionKey(entry[0]) if entry is not None and live(entry[1], now) else None

    def list_waits_for_user(self, ctx: TenantCtx, user_id: UserId | str) -> list[SessionKey]:
        lookup, now = self.user_lookup(ctx, user_id), self.now()
        with self._lock:
            entries = list(self._waits.get(lookup, {}).items())
        return [SessionKey(key) for key, expires_at in entries if live(expires_at, now)]

    def clear_wait(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> None:
        lookup, now = self.scope_lookup(ctx, user_id, scope), self.now()
        with self._lock:
            entry = self._scopes.get(lookup)
            if entry is None or not live(entry[1], now):
                return
            row = self._sessions.pop(entry[0], None)
            if row is not None:
                self._drop_wait(entry[0], row)

    def _insert(self, reg: Registration) -> None:
        row = self._sessions[reg.key] = _Row(reg.owner, reg.data, reg.expires_at)
        row.wait_user_key, row.wait_scope_key = reg.user_key, reg.scope_key
        self._scopes[reg.scope_key] = (reg.key, reg.expires_at)
        self._waits.setdefault(reg.user_key, {})[reg.key] = reg.expires_at

    def _drop_wait(self, key: str, row: _Row) -> None:
        """The index entries of `row`'s wait that still point at it."""
        if row.wait_scope_key is not None and self._scopes.get(row.wait_scope_key, ("",))[0] == key:
            del self._scopes[row.wait_scope_key]
        if row.wait_user_key is not None:
            waits = self._waits.get(row.wait_user_key, {})
            waits.pop(key, None)
            if not waits:
                self._waits.pop(row.wait_user_key, None)
        row.wait_user_key = row.wait_scope_key = None
