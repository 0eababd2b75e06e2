"""The floor for SQLite: three plain tables, no log, `sqlite3` with the store's settings.

WAL, autocommit, the default `synchronous`; one connection per thread. A read or a
one-row write is one statement; a write that touches several rows is one `BEGIN
IMMEDIATE` transaction (writers queue on the file lock instead of failing on upgrade).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from uuid import uuid4

from benchmarks.floor_common import FloorStore, PerThread, Registration, live, owner
from benchmarks.floor_sql import SQLiteSQL as SQL
from greentic_session import ReplyScope, SessionData, SessionKey, TenantCtx, UserId
from greentic_session.domain.errors import not_found
from greentic_session.domain.rules import Clock, ensure_preserved, expect


class SQLiteFloor(FloorStore):
    def __init__(self, path: str, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self._connections = PerThread(
            partial(sqlite3.connect, path, isolation_level=None, check_same_thread=False, timeout=5)
        )
        connection = self._connection()
        connection.execute("PRAGMA journal_mode=WAL")
        for statement in SQL.SCHEMA:
            connection.execute(statement)

    def create_session(self, ctx: TenantCtx, data: SessionData) -> SessionKey:
        data = self.check_create(ctx, data)
        key = SessionKey(str(uuid4()))
        self._connection().execute(
            "INSERT INTO floor_sessions (key, owner, data) VALUES (?, ?, ?)",
            (key, owner(data.tenant_ctx), data.model_dump_json()),
        )
        return key

    def get_session(self, key: SessionKey | str) -> SessionData | None:
        query = f"SELECT data FROM floor_sessions WHERE key = ? AND {SQL.LIVE}"
        row = self._connection().execute(query, (SessionKey(key), self.now())).fetchone()
        return None if row is None else SessionData.model_validate_json(row[0])

    def update_session(
        self, key: SessionKey | str, data: SessionData, *, expected_version: int | None = None
    ) -> None:
        self.refuse_atomic_variant(expected_version is not None)
        key, data = SessionKey(key), expect(data, SessionData, "data")
        params = (data.model_dump_json(), key, owner(data.tenant_ctx), self.now())
        connection = self._connection()
        query = f"UPDATE floor_sessions SET data = ? WHERE key = ? AND owner = ? AND {SQL.LIVE}"
        while connection.execute(query, params).rowcount != 1:
            stored = self.get_session(key)  # the error path only: which error?
            if stored is None:
                raise not_found(key)
            ensure_preserved(stored.tenant_ctx, data.tenant_ctx)

    def remove_session(self, key: SessionKey | str, *, ctx: TenantCtx | None = None) -> None:
        """`ctx` is not used: a floor keeps no log to record who removed the session."""
        key = SessionKey(key)
        with self._write() as connection:
            row = connection.execute(
                f"DELETE FROM floor_sessions WHERE key = ? AND {SQL.LIVE} "
                "RETURNING wait_user_key, wait_scope_key",
                (key, self.now()),
            ).fetchone()
            if row is None:
                raise not_found(key)
            connection.execute(SQL.DROP_SCOPE, (row[1], key))
            connection.execute(SQL.DROP_WAIT, (row[0], key))

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
        key = reg.key
        with self._write() as connection:
            row = connection.execute(
                "SELECT owner, data, expires_at, wait_user_key, wait_scope_key "
                "FROM floor_sessions WHERE key = ?",
                (key,),
            ).fetchone()
            if row is not None:
                if live(row[2], reg.now) and row[0] != reg.owner:
                    stored = SessionData.model_validate_json(row[1])
                    ensure_preserved(stored.tenant_ctx, reg.data.tenant_ctx)
                connection.execute(SQL.DROP_SCOPE, (row[4], key))
                connection.execute(SQL.DROP_WAIT, (row[3], key))
            holder = connection.execute(
                "SELECT session_key FROM floor_scopes WHERE scope_key = ?", (reg.scope_key,)
            ).fetchone()
            if holder is not None and holder[0] != key:  # supersede the holder
                connection.execute(SQL.UNWAIT, (holder[0], reg.scope_key))
                connection.execute(SQL.DROP_WAIT, (reg.user_key, holder[0]))
            self._insert(connection, reg)

    def seed_new_waits(self, regs: Sequence[Registration]) -> None:
        with self._write() as connection:
            for reg in regs:
                self._insert(connection, reg)

    def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope
    ) -> SessionKey | None:
        query = f"SELECT session_key FROM floor_scopes WHERE scope_key = ? AND {SQL.LIVE}"
        params = (self.scope_lookup(ctx, user_id, scope), self.now())
        row = self._connection().execute(query, params).fetchone()
        return None if row is None else SessionKey(row[0])

    def list_waits_for_user(self, ctx: TenantCtx, user_id: UserId | str) -> list[SessionKey]:
        query = f"SELECT session_key FROM floor_user_waits WHERE user_key = ? AND {SQL.LIVE} "
        query += "ORDER BY seq"
        params = (self.user_lookup(ctx, user_id), self.now())
        return [SessionKey(row[0]) for row in self._connection().execute(query, params)]

    def clear_wait(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> None:
        lookup, waits = self.scope_lookup(ctx, user_id, scope), self.user_lookup(ctx, user_id)
        with self._write() as connection:
            row = connection.execute(
                f"DELETE FROM floor_scopes WHERE scope_key = ? AND {SQL.LIVE} "
                "RETURNING session_key",
                (lookup, self.now()),
            ).fetchone()
            if row is not None:
                connection.execute(SQL.DROP_WAIT, (waits, row[0]))
                connection.execute("DELETE FROM floor_sessions WHERE key = ?", (row[0],))

    def close(self) -> None:
        super().close()
        self._connections.close_all()

    @staticmethod
    def _insert(connection: sqlite3.Connection, reg: Registration) -> None:
        data, expires_at = reg.data.model_dump_json(), reg.expires_at
        connection.execute(
            SQL.UPSERT_SESSION, (reg.key, reg.owner, data, expires_at, reg.user_key, reg.scope_key)
        )
        connection.execute(SQL.UPSERT_SCOPE, (reg.scope_key, reg.key, expires_at))
        connection.execute(SQL.ADD_WAIT, (reg.user_key, reg.key, expires_at))

    def _connection(self) -> sqlite3.Connection:
        return self._connections.get()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
