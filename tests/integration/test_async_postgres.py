"""The async store on PostgreSQL: native on the async pool (tasks use up to its size of
connections at once, no store-wide lock), a deadline on every call, and cancellation
that leaves nothing behind: no partial write, no connection out of the pool."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from greentic_session import AsyncSessionStore, ErrorCode, SessionError
from tests.contract.async_fixtures import run_async
from tests.contract.helpers import CTX, data_for
from tests.support import FakeClock

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def schema_of(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


@contextmanager
def state_table_locked(dsn: str, schema: str) -> Iterator[None]:
    """Another session holds the state table: every read and write of it waits."""
    with psycopg.connect(dsn) as connection, connection.transaction():
        table = sql.Identifier(schema, "gs_session_state")
        connection.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
        yield


def waiting_on_locks(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return 0 if row is None else int(row[0])


def all_returned(store: AsyncSessionStore) -> bool:
    stats = store.pool_stats()
    return stats["pool_available"] == stats["pool_size"] and not stats.get("requests_waiting")


def test_concurrent_tasks_use_up_to_the_pool_size_of_connections_at_once(
    store_url: str, pg_dsn: str, fake_clock: FakeClock
) -> None:
    url = f"{store_url}&pool_size=4&max_overflow=0"

    async def body(store: AsyncSessionStore) -> None:
        keys = [await store.create_session(CTX, data_for()) for _ in range(8)]
        with state_table_locked(pg_dsn, schema_of(store_url)):
            tasks = [asyncio.create_task(store.get_session(key)) for key in keys]
            waiting = 0
            for _ in range(100):
                await asyncio.sleep(0.02)
                waiting = await asyncio.to_thread(waiting_on_locks, pg_dsn)
                if waiting >= 4:
                    break
            await asyncio.sleep(0.2)
            waiting = await asyncio.to_thread(waiting_on_locks, pg_dsn)
            assert waiting == 4, "four connections, each blocked at the server at once"
            assert store.pool_stats()["requests_waiting"] == 4
        assert all(data == data_for() for data in await asyncio.gather(*tasks))
        assert all_returned(store)

    run_async(url, fake_clock, body)


def test_a_call_past_command_timeout_is_cancelled_on_the_server_and_is_a_timeout(
    store_url: str, pg_dsn: str, fake_clock: FakeClock
) -> None:
    url = f"{store_url}&command_timeout=1"

    async def body(store: AsyncSessionStore) -> None:
        key = await store.create_session(CTX, data_for())
        with state_table_locked(pg_dsn, schema_of(store_url)):
            started = time.monotonic()
            with pytest.raises(SessionError) as caught:
                await store.update_session(key, data_for(node="late"))
            seconds = time.monotonic() - started
        assert caught.value.code is ErrorCode.TIMEOUT, caught.value
        assert 0.9 <= seconds < 3, seconds
        assert await store.get_session(key) == data_for()  # nothing written; works again
        assert all_returned(store)

    run_async(url, fake_clock, body)


def test_asyncio_timeout_around_a_call_leaves_no_write_and_no_connection_out(
    store_url: str, pg_dsn: str, fake_clock: FakeClock
) -> None:
    async def body(store: AsyncSessionStore) -> None:
        key = await store.create_session(CTX, data_for())
        with state_table_locked(pg_dsn, schema_of(store_url)), pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await store.update_session(key, data_for(node="cancelled"))
        assert [event.version for event in await store.history(key)] == [1]
        await store.update_session(key, data_for(node="after"))
        assert await store.get_session(key) == data_for(node="after")
        assert all_returned(store)
        assert (await store.verify()).ok

    run_async(store_url, fake_clock, body)


def test_the_async_pool_connects_with_every_parameter_of_the_url(
    store_url: str, pg_dsn: str, fake_clock: FakeClock
) -> None:
    url = f"{store_url}&application_name=async-probe"

    def probes() -> int:
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'async-probe'"
            ).fetchone()
        return 0 if row is None else int(row[0])

    async def body(store: AsyncSessionStore) -> int:
        await store.create_session(CTX, data_for())
        return await asyncio.to_thread(probes)

    assert run_async(url, fake_clock, body) >= 1
