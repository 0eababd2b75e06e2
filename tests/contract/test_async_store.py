"""The async store keeps the contract of the sync one: the same operations, arguments,
results and errors, on the same log and tables (every backend)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from greentic_session import (
    AsyncSessionStore,
    ErrorCode,
    EventSourcedSessionStore,
    SessionError,
    open_store,
)
from tests.conftest import PERSISTENT_BACKENDS
from tests.contract.async_fixtures import gather_all, run_async
from tests.contract.helpers import CTX, SCOPE_A, SCOPE_B, TTL, USER, data_for
from tests.support import FakeClock, raises_code


@contextmanager
def raises_saying(code: ErrorCode, fragment: str) -> Iterator[None]:
    with pytest.raises(SessionError) as caught:
        yield
    assert caught.value.code is code and fragment in caught.value.message, caught.value


SYNC_ONLY = {"close", "events", "log_ports", "session_log", "options"}
"""Not coroutines on the async store: the log's iterator is for tests and tools."""


def sync_operations() -> list[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(EventSourcedSessionStore)
        if not name.startswith("_") and callable(member) and name not in SYNC_ONLY
    )


@pytest.mark.parametrize("name", sync_operations())
def test_every_operation_of_the_sync_store_is_a_coroutine_of_the_same_parameters(
    name: str,
) -> None:
    operation = getattr(AsyncSessionStore, name, None)
    assert operation is not None, f"AsyncSessionStore has no {name}"
    assert inspect.iscoroutinefunction(operation), f"{name} is not a coroutine"
    sync = inspect.signature(getattr(EventSourcedSessionStore, name))
    assert list(inspect.signature(operation).parameters) == list(sync.parameters)
    assert "raise" in (inspect.getdoc(operation) or "").lower()


def test_a_session_is_created_read_updated_and_removed(
    store_url: str, fake_clock: FakeClock
) -> None:
    async def body(store: AsyncSessionStore) -> None:
        key = await store.create_session(CTX, data_for())
        assert await store.get_session(key) == data_for()
        await store.update_session(key, data_for(node="next"), expected_version=1)
        read = await store.read_session(key)
        assert read is not None and read.version == 2 and read.data == data_for(node="next")
        await store.remove_session(key, ctx=CTX)
        assert await store.get_session(key) is None
        with raises_code(ErrorCode.NOT_FOUND):
            await store.remove_session(key)

    run_async(store_url, fake_clock, body)


def test_a_wait_routes_a_reply_supersedes_and_clears(store_url: str, fake_clock: FakeClock) -> None:
    async def body(store: AsyncSessionStore) -> None:
        await store.register_wait(CTX, USER, SCOPE_A, "first", data_for(), TTL)
        await store.register_wait(CTX, USER, SCOPE_A, "second", data_for())
        assert await store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"
        assert await store.list_waits_for_user(CTX, USER) == ["second"]
        with raises_code(ErrorCode.CONFLICT):
            await store.register_wait(CTX, USER, SCOPE_A, "third", data_for(), if_absent=True)
        await store.clear_wait(CTX, USER, SCOPE_A)
        assert await store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
        assert await store.get_session("third") is None  # the refused call wrote nothing

    run_async(store_url, fake_clock, body)


def test_a_stale_expected_version_is_a_conflict_that_writes_nothing(
    store_url: str, fake_clock: FakeClock
) -> None:
    async def body(store: AsyncSessionStore) -> None:
        key = await store.create_session(CTX, data_for())
        await store.update_session(key, data_for(node="theirs"))
        with raises_saying(ErrorCode.CONFLICT, "read_session()"):
            await store.update_session(key, data_for(node="mine"), expected_version=1)
        assert await store.get_session(key) == data_for(node="theirs")

    run_async(store_url, fake_clock, body)


def test_bad_input_is_invalid_input_before_any_io(store_url: str, fake_clock: FakeClock) -> None:
    async def body(store: AsyncSessionStore) -> None:
        with raises_code(ErrorCode.INVALID_INPUT):
            await store.get_session("")
        with raises_code(ErrorCode.INVALID_INPUT):
            await store.register_wait(CTX, USER, "not a scope", "k", data_for())  # type: ignore[arg-type]

    run_async(store_url, fake_clock, body)


def test_an_expired_wait_is_gone_and_a_sweep_records_it(
    store_url: str, fake_clock: FakeClock
) -> None:
    async def body(store: AsyncSessionStore) -> None:
        await store.register_wait(CTX, USER, SCOPE_B, "brief", data_for(), TTL)
        fake_clock.advance(TTL * 2)
        assert await store.find_wait_by_scope(CTX, USER, SCOPE_B) is None
        assert await store.sessions_due() == ["brief"]
        assert await store.sweep_expired() == 1
        assert [e.type for e in await store.history("brief")][-1] == "wait_expired"

    run_async(store_url, fake_clock, body)


def test_concurrent_tasks_lose_no_update(store_url: str, fake_clock: FakeClock) -> None:
    async def body(store: AsyncSessionStore) -> int:
        key = await store.create_session(CTX, data_for())
        await gather_all([store.update_session(key, data_for(node=f"n{i}")) for i in range(40)])
        read = await store.read_session(key)
        assert read is not None
        return read.version

    assert run_async(store_url, fake_clock, body) == 41


def test_the_audit_tools_answer_as_the_sync_ones(store_url: str, fake_clock: FakeClock) -> None:
    async def body(store: AsyncSessionStore) -> None:
        key = await store.create_session(CTX, data_for())
        await store.update_session(key, data_for(node="b"))
        assert (await store.verify()).ok
        assert (await store.diff(key, 1, 2)).changes
        assert await store.get_session_at(key, version=1) == data_for()
        explanation = await store.explain(CTX, USER, SCOPE_A)
        assert explanation.session_key is None and explanation.reason
        assert await store.keys_with_prefix(key[:8]) == [key]
        assert await store.replay_read_models() == await store.current_read_models()

    run_async(store_url, fake_clock, body)


def test_sessions_are_found_and_the_log_followed_as_on_the_sync_store(
    store_url: str, fake_clock: FakeClock
) -> None:
    async def body(store: AsyncSessionStore) -> None:
        start = await store.log_position()
        key = await store.create_session(CTX, data_for())
        await store.update_session(key, data_for(node="b"))
        page = await store.find_sessions(tenant=CTX.tenant_id, limit=1)
        assert [summary.session_key for summary in page.sessions] == [key]
        assert page.next is None and page.sessions[0].state == "live"
        assert [e.version for e in await store.history(key, reverse=True, limit=1)] == [2]
        assert [e.type for e in await store.events_after(start)] == ["created", "updated"]
        assert await store.log_position() == start + 2

    run_async(store_url, fake_clock, body)


def test_calls_after_close_are_unavailable(store_url: str, fake_clock: FakeClock) -> None:
    async def body(store: AsyncSessionStore) -> None:
        await store.close()
        await store.close()  # harmless
        with raises_saying(ErrorCode.UNAVAILABLE, "closed"):
            await store.get_session("k")
        with raises_saying(ErrorCode.UNAVAILABLE, "closed"):
            await store.history("k")

    run_async(store_url, fake_clock, body)


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_a_sync_and_an_async_store_on_one_database_work_together(
    store_url: str, fake_clock: FakeClock
) -> None:
    with open_store(store_url, clock=fake_clock) as sync:
        sync.register_wait(CTX, USER, SCOPE_A, "shared", data_for())

        async def body(store: AsyncSessionStore) -> None:
            assert await store.find_wait_by_scope(CTX, USER, SCOPE_A) == "shared"
            await store.update_session("shared", data_for(node="async"), expected_version=2)
            sync.update_session("shared", data_for(node="sync"), expected_version=3)
            read = await store.read_session("shared")
            assert read is not None and read.version == 4 and read.data == data_for(node="sync")
            await store.clear_wait(CTX, USER, SCOPE_A)

        run_async(store_url, fake_clock, body)
        assert sync.get_session("shared") is None
        assert [e.version for e in sync.history("shared")] == [1, 2, 3, 4, 5]
        report = sync.verify()
        assert report.ok, report
        assert sync.replay_read_models() == sync.current_read_models()


def test_open_with_create_false_finds_no_store_in_a_missing_file(
    tmp_path: object, fake_clock: FakeClock
) -> None:
    import asyncio
    from pathlib import Path

    from greentic_session import open_async_store

    url = f"sqlite:///{Path(str(tmp_path)) / 'missing.db'}"

    async def main() -> None:
        await open_async_store(url, create=False)

    with pytest.raises(SessionError) as caught:
        asyncio.run(main())
    assert caught.value.code is ErrorCode.NOT_FOUND
    assert not (Path(str(tmp_path)) / "missing.db").exists()
