"""The floor for PostgreSQL: three plain tables, no log, psycopg 3, prepared statements.

One autocommit connection per thread. Reads, create and update are one statement;
clear_wait and remove_session one statement too (data-modifying CTEs). register_wait is
one transaction in two round trips (pipeline mode): lock the session row and the scope
entry, then write; a scope claimed meanwhile by another transaction fails its INSERT on
the primary key and the call is retried, so a supersede is never missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import uuid4

import psycopg
from psycopg import errors

from benchmarks.databases import libpq_url, schema_of
from benchmarks.floor_common import FloorStore, PerThread, Registration, live, owner
from benchmarks.floor_sql import PostgresSQL as SQL
from greentic_session import ReplyScope, SessionData, SessionKey, TenantCtx, UserId
from greentic_session.domain.errors import ErrorCode, SessionError, not_found
from greentic_session.domain.rules import Clock, ensure_preserved, expect

RETRIED = (errors.UniqueViolation, errors.DeadlockDetected, errors.SerializationFailure)
MAX_ATTEMPTS = 20


class PostgresFloor(FloorStore):
    def __init__(self, url: str, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self._dsn, self._schema = libpq_url(url), schema_of(url)
        options = f"-c search_path={self._schema}"
        self._connections = PerThread(
            partial(psycopg.connect, self._dsn, autocommit=True, options=options)
        )
        with psycopg.connect(self._dsn, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
        for statement in SQL.TABLES:
            self._connection().execute(statement)

    def create_session(self, ctx: TenantCtx, data: SessionData) -> SessionKey:
        data = self.check_create(ctx, data)
        key = SessionKey(str(uuid4()))
        query = (
            "INSERT INTO floor_sessions (id, key, owner, data) VALUES (md5(%s)::uuid, %s, %s, %s)"
        )
        self._execute(query, (key, key, owner(data.tenant_ctx), data.model_dump_json()))
        return key

    def get_session(self, key: SessionKey | str) -> SessionData | None:
        query = f"SELECT data FROM floor_sessions WHERE id = {SQL.ID} AND {SQL.LIVE}"
        row = self._execute(query, {"key": SessionKey(key), "now": self.now()}).fetchone()
        return None if row is None else SessionData.model_validate_json(row[0])

    def update_session(
        self, key: SessionKey | str, data: SessionData, *, expected_version: int | None = None
    ) -> None:
        self.refuse_atomic_variant(expected_version is not None)
        key, data = SessionKey(key), expect(data, SessionData, "data")
        query = (
            f"UPDATE floor_sessions SET data = %(data)s WHERE id = {SQL.ID} "
            "AND owner = %(owner)s AND " + SQL.LIVE
        )
        params = {"data": data.model_dump_json(), "key": key, "owner": owner(data.tenant_ctx)}
        while self._execute(query, {**params, "now": self.now()}).rowcount != 1:
            stored = self.get_session(key)  # the error path only: which error?
            if stored is None:
                raise not_found(key)
            ensure_preserved(stored.tenant_ctx, data.tenant_ctx)

    def remove_session(self, key: SessionKey | str, *, ctx: TenantCtx | None = None) -> None:
        """`ctx` is not used: a floor keeps no log to record who removed the session."""
        key = SessionKey(key)
        row = self._execute(SQL.REMOVE, {"key": key, "now": self.now()}).fetchone()
        if row is None or row[0] == 0:
            raise not_found(key)

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
        connection = self._connection()
        for _ in range(MAX_ATTEMPTS):
            with connection.pipeline():
                try:
                    with connection.transaction():
                        self._register(connection, reg)
                    return
                except RETRIED:  # another writer claimed the scope first: retry on fresh state
                    pass
        raise SessionError(ErrorCode.CONFLICT, "register_wait kept clashing; retry")

    def _register(self, connection: psycopg.Connection[Any], reg: Registration) -> None:
        """Two round trips: lock the session row and the scope entry; then the writes."""
        run = connection.execute
        session = run(SQL.SELECT_SESSION, (reg.key,), prepare=True)
        holder = run(SQL.SELECT_HOLDER, (reg.scope_key,), prepare=True)
        self._write(connection, reg, session.fetchone(), holder.fetchone())

    def _write(
        self,
        connection: psycopg.Connection[Any],
        reg: Registration,
        session: tuple[Any, ...] | None,
        holder: tuple[Any, ...] | None,
    ) -> None:
        key, run = reg.key, connection.execute
        if session is not None:
            stored_owner, expires_at, wait_user_key, wait_scope_key = session
            if live(expires_at, reg.now) and stored_owner != reg.owner:
                stored = self.get_session(key)
                assert stored is not None
                ensure_preserved(stored.tenant_ctx, reg.data.tenant_ctx)
            if wait_scope_key is not None and wait_scope_key != reg.scope_key:
                run(SQL.DROP_SCOPE, (wait_scope_key, key), prepare=True)
            run(SQL.DROP_WAIT, (wait_user_key, key), prepare=True)
        if holder is not None and holder[0] != key:  # supersede the holder
            run(SQL.UNWAIT, (holder[0], reg.scope_key), prepare=True)
            run(SQL.DROP_WAIT, (reg.user_key, holder[0]), prepare=True)
        self._insert(connection, reg, claim=holder is None)

    def _insert(self, connection: psycopg.Connection[Any], reg: Registration, claim: bool) -> None:
        data, expires_at, run = reg.data.model_dump_json(), reg.expires_at, connection.execute
        row = (reg.key, reg.key, reg.owner, data, expires_at, reg.user_key, reg.scope_key)
        run(SQL.UPSERT_SESSION, row, prepare=True)
        if claim:
            run(SQL.CLAIM_SCOPE, (reg.scope_key, reg.key, expires_at), prepare=True)
        else:
            run(SQL.TAKE_SCOPE, (reg.key, expires_at, reg.scope_key), prepare=True)
        run(SQL.ADD_WAIT, (reg.user_key, reg.key, expires_at), prepare=True)

    def seed_new_waits(self, regs: Sequence[Registration]) -> None:
        sessions = [
            (r.key, r.key, r.owner, r.data.model_dump_json(), r.expires_at, r.user_key, r.scope_key)
            for r in regs
        ]
        connection = self._connection()
        with connection.transaction(), connection.cursor() as cursor:
            cursor.executemany(SQL.UPSERT_SESSION, sessions)
            cursor.executemany(SQL.CLAIM_SCOPE, [(r.scope_key, r.key, r.expires_at) for r in regs])
            cursor.executemany(SQL.ADD_WAIT, [(r.user_key, r.key, r.expires_at) for r in regs])

    def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope
    ) -> SessionKey | None:
        query = "SELECT session_key FROM floor_scopes WHERE scope_key = %(scope)s AND " + SQL.LIVE
        params = {"scope": self.scope_lookup(ctx, user_id, scope), "now": self.now()}
        row = self._execute(query, params).fetchone()
        return None if row is None else SessionKey(row[0])

    def list_waits_for_user(self, ctx: TenantCtx, user_id: UserId | str) -> list[SessionKey]:
        query = "SELECT session_key FROM floor_user_waits WHERE user_key = %(user)s AND "
        query += f"{SQL.LIVE} ORDER BY seq"
        params = {"user": self.user_lookup(ctx, user_id), "now": self.now()}
        return [SessionKey(row[0]) for row in self._execute(query, params).fetchall()]

    def clear_wait(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> None:
        params = {
            "scope": self.scope_lookup(ctx, user_id, scope),
            "user": self.user_lookup(ctx, user_id),
            "now": self.now(),
        }
        self._execute(SQL.CLEAR, params)

    def close(self) -> None:
        super().close()
        self._connections.close_all()

    def _execute(self, query: str, params: Any) -> psycopg.Cursor[Any]:
        return self._connection().execute(query, params, prepare=True)

    def _connection(self) -> psycopg.Connection[Any]:
        return self._connections.get()
