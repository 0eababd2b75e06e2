"""The async store's ports on PostgreSQL: psycopg's `AsyncConnectionPool`, no thread.

The statements are the sync store's: the read-model lookups (`SqlLookups`) and the
append (`PostgresSessionRecorder.write_plan`), run on async connections of a pool
connected like the sync one (same connection string and arguments, same set-up).

Every call has a deadline, `command_timeout` (URL option, seconds, default 30; 0: none).
The server cancels a statement past it (`statement_timeout` on each connection), and
the call raises `SessionError(timeout)`. A server that stops answering altogether (a
frozen host whose kernel still acknowledges) cannot cancel anything: a second after the
deadline the connection's socket is shut, the call raises `timeout` too, and the pool
replaces the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import Mapper
from psycopg import AsyncClientCursor, AsyncConnection
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from greentic_session.adapters.storage.postgres import SERVER_ROLLBACKS, PostgresSessionRecorder
from greentic_session.adapters.storage.postgres_deadline import ABORT_GRACE, abandoned, shut
from greentic_session.adapters.storage.sql_lookups import Lookup, SqlLookups
from greentic_session.domain.state import SessionState
from greentic_session.projections.changes import Change
from greentic_session.projections.read_models import StoredData, WaitEntry

R = TypeVar("R")


class AsyncPostgresPorts:
    """`StorePorts` on an `AsyncConnectionPool`: each call takes a connection for one
    statement, so N tasks use up to the pool's size of connections at once."""

    def __init__(
        self,
        recorder: PostgresSessionRecorder,
        mapper: Mapper[UUID],
        command_timeout: float,
    ) -> None:
        sync_pool = recorder.datastore.pool
        kwargs = sync_pool.kwargs
        if not isinstance(kwargs, dict):  # `recovering_pool` builds it with a dict
            raise TypeError(f"the sync pool's kwargs are not a dict: {kwargs!r}")
        self._recorder = recorder
        self._lookups = SqlLookups(recorder.tables)
        self._mapper = mapper
        self._deadline = command_timeout or None
        self._idle_timeout = recorder.datastore.idle_in_transaction_session_timeout
        self.pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            sync_pool.conninfo,
            kwargs=dict(kwargs),
            min_size=sync_pool.min_size,
            max_size=sync_pool.max_size,
            timeout=sync_pool.timeout,
            reconnect_timeout=sync_pool.timeout,
            configure=self._set_up,
            open=False,
        )

    async def open(self) -> None:
        """Raises `psycopg_pool.PoolTimeout` when the server cannot be reached in time."""
        await self.pool.open(wait=True, timeout=self.pool.timeout)

    async def close(self) -> None:
        await self.pool.close()

    async def session_state(self, session_key: str) -> SessionState | None:
        return await self._fetch(self._lookups.session_state(session_key))

    async def session_data(self, session_key: str) -> StoredData | None:
        return await self._fetch(self._lookups.session_data(session_key))

    async def scope_entry(self, scope_key: str) -> WaitEntry | None:
        return await self._fetch(self._lookups.scope_entry(scope_key))

    async def user_waits(self, user_key: str) -> list[WaitEntry]:
        return await self._fetch(self._lookups.user_waits(user_key))

    async def due_sessions(self, now: datetime) -> list[str]:
        return await self._fetch(self._lookups.due_sessions(now))

    async def keys_with_prefix(self, prefix: str, limit: int) -> list[str]:
        return await self._fetch(self._lookups.keys_with_prefix(prefix, limit))

    async def append(
        self, events: Sequence[CanMutateAggregate[UUID]], changes: list[Change]
    ) -> bool:
        stored = [self._mapper.to_stored_event(event) for event in events]
        plan = self._recorder.write_plan(stored, changes)
        async with self._connection() as connection:
            try:
                if plan.one_statement:
                    await connection.execute(plan.text, plan.params, prepare=True)
                else:
                    await AsyncClientCursor(connection).execute(plan.text, plan.params)
            except (psycopg.IntegrityError, *SERVER_ROLLBACKS):
                return False  # another writer took a stream's next version first
        return True

    async def pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _fetch(self, lookup: Lookup[R]) -> R:
        async with self._connection() as connection:
            cursor = connection.cursor(row_factory=tuple_row)
            await cursor.execute(lookup.statement, lookup.params, prepare=True)
            return lookup.decode(list(await cursor.fetchall()))

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection for one statement, shut if the server never answers.

        Its return to the pool is shielded: a task cancelled while the pool takes the
        connection back (psycopg_pool's `putconn` awaits) would otherwise lose it, and
        the pool, still counting it, would never replace it."""
        connection = await self.pool.getconn()
        aborted: list[bool] = []
        timer = None
        if self._deadline is not None:
            loop = asyncio.get_running_loop()
            timer = loop.call_later(self._deadline + ABORT_GRACE, _shut, connection, aborted)
        try:
            yield connection
        except psycopg.OperationalError as exc:
            if aborted:
                raise abandoned(self._deadline or 0) from exc
            raise
        finally:
            if timer is not None:
                timer.cancel()
            await asyncio.shield(self.pool.putconn(connection))

    async def _set_up(self, connection: AsyncConnection[Any]) -> None:
        """As the library sets up the sync pool's connections, plus the deadline."""
        await connection.set_autocommit(True)
        idle = int(self._idle_timeout * 1000)
        await connection.execute(f"SET idle_in_transaction_session_timeout = '{idle}ms'")
        statement = int((self._deadline or 0) * 1000)
        await connection.execute(f"SET statement_timeout = '{statement}ms'")


def _shut(connection: AsyncConnection[Any], aborted: list[bool]) -> None:
    aborted.append(True)
    shut(connection.fileno())
