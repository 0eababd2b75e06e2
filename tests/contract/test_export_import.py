"""`export_events` and `import_events`: the log as JSON lines with its hashes, moved to
another store (and backend) and refused when tampered with."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from greentic_session import AuditedSessionStore, ErrorCode, SessionEvent, SessionKey
from tests.conftest import Databases, open_store
from tests.contract.audit_helpers import (
    CTX,
    OTHER_SCOPE,
    SCOPE,
    TTL,
    USER,
    data,
    populate,
    raises_invalid,
    wait,
)
from tests.support import FakeClock, make_ctx, raises_code


def without_position(events: list[SessionEvent]) -> list[dict[str, Any]]:
    return [event.model_dump(exclude={"position"}) for event in events]


def exported(store: AuditedSessionStore, tenant: str | None = None) -> str:
    buffer = io.StringIO()
    count = store.export_events(buffer, tenant=tenant)
    text = buffer.getvalue()
    assert count == len(text.splitlines())
    return text


@pytest.fixture
def open_empty(
    databases: Databases, fake_clock: FakeClock
) -> Iterator[Callable[[], AuditedSessionStore]]:
    """Opens another, empty store of the backend under test (closed at the end)."""
    opened: list[AuditedSessionStore] = []

    def factory() -> AuditedSessionStore:
        opened.append(open_store(databases.new_url(), clock=fake_clock))
        return opened[-1]

    yield factory
    for instance in opened:
        instance.close()


def test_export_writes_one_json_line_per_event_with_its_hashes(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    keys = populate(store, fake_clock)
    history = {key: store.history(key) for key in keys}

    lines = [json.loads(line) for line in exported(store).splitlines()]

    assert len(lines) == sum(len(events) for events in history.values())
    assert [line["position"] for line in lines] == sorted(line["position"] for line in lines)
    for line in lines:
        event = history[line["session_key"]][line["version"] - 1]
        assert (line["type"], line["hash"], line["prev_hash"]) == (
            event.type.value,
            event.hash,
            event.prev_hash,
        )
        assert line["position"] == event.position


def test_export_then_import_gives_the_same_history_read_models_and_verify(
    store: AuditedSessionStore,
    fake_clock: FakeClock,
    open_empty: Callable[[], AuditedSessionStore],
) -> None:
    keys = populate(store, fake_clock)
    export = exported(store)
    target = open_empty()

    assert target.import_events(io.StringIO(export)) == len(export.splitlines())

    assert_same_store(store, target, keys)


@pytest.mark.postgres
def test_export_then_import_into_another_backend_gives_the_same_history(
    fake_clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Once across backends: SQLite to memory, then memory to PostgreSQL."""
    dsn: str = request.getfixturevalue("pg_dsn")
    sqlite_url = Databases("sqlite", tmp_path, None).new_url()
    postgres = Databases("postgres", tmp_path, dsn)
    request.addfinalizer(postgres.drop_all)
    with (
        open_store(sqlite_url, clock=fake_clock) as source,
        open_store("memory://", clock=fake_clock) as memory,
        open_store(postgres.new_url(), clock=fake_clock) as target,
    ):
        keys = populate(source, fake_clock)
        memory.import_events(io.StringIO(exported(source)))
        target.import_events(io.StringIO(exported(memory)))

        assert_same_store(source, memory, keys)
        assert_same_store(source, target, keys)


def assert_same_store(
    source: AuditedSessionStore, target: AuditedSessionStore, keys: list[SessionKey]
) -> None:
    """History identical apart from positions, which keep their order; same reads; clean."""
    for key in keys:
        assert without_position(target.history(key)) == without_position(source.history(key))
        assert target.get_session(key) == source.get_session(key)

    def log_order(store: AuditedSessionStore) -> list[tuple[str, int]]:
        events = [event for key in keys for event in store.history(key)]
        return [(e.session_key, e.version) for e in sorted(events, key=lambda e: e.position)]

    assert log_order(target) == log_order(source)
    for scope in (SCOPE, OTHER_SCOPE):
        assert target.find_wait_by_scope(CTX, USER, scope) == source.find_wait_by_scope(
            CTX, USER, scope
        )
    assert target.list_waits_for_user(CTX, USER) == source.list_waits_for_user(CTX, USER)
    report = target.verify()
    assert report.ok, report.problems
    assert (report.streams, report.events) == (source.verify().streams, source.verify().events)
    assert [
        {k: v for k, v in json.loads(line).items() if k != "position"}
        for line in exported(target).splitlines()
    ] == [
        {k: v for k, v in json.loads(line).items() if k != "position"}
        for line in exported(source).splitlines()
    ]


def test_an_imported_store_carries_on_the_chain(
    store: AuditedSessionStore,
    fake_clock: FakeClock,
    open_empty: Callable[[], AuditedSessionStore],
) -> None:
    keys = populate(store, fake_clock)
    target = open_empty()
    target.import_events(io.StringIO(exported(store)))
    last = target.history("third")[-1]

    target.update_session("third", data("third.3"))
    wait(target, keys[0], "first.again", ttl=TTL)

    appended = target.history("third")[-1]
    assert (appended.version, appended.prev_hash) == (last.version + 1, last.hash)
    assert target.find_wait_by_scope(CTX, USER, SCOPE) == keys[0]
    assert target.verify().ok


def test_export_with_a_tenant_filter_writes_only_that_tenants_sessions(
    store: AuditedSessionStore, open_empty: Callable[[], AuditedSessionStore]
) -> None:
    ours, theirs = make_ctx(tenant="tenant-a", user=USER), make_ctx(tenant="tenant-b", user=USER)
    mine = store.create_session(ours, data("a.1", ctx=ours))
    store.update_session(mine, data("a.2", ctx=ours))
    wait(store, "b-waiting", "b.1", ctx=theirs)
    other = store.create_session(theirs, data("b.2", ctx=theirs))

    export = exported(store, tenant="tenant-b")

    assert {json.loads(line)["session_key"] for line in export.splitlines()} == {
        "b-waiting",
        other,
    }
    target = open_empty()
    assert target.import_events(io.StringIO(export)) == 3
    assert target.history(mine) == []
    assert without_position(target.history("b-waiting")) == without_position(
        store.history("b-waiting")
    )
    assert target.find_wait_by_scope(theirs, USER, SCOPE) == "b-waiting"
    assert target.verify().ok


def test_import_into_a_store_that_is_not_empty_is_refused(
    store: AuditedSessionStore, open_empty: Callable[[], AuditedSessionStore]
) -> None:
    store.create_session(CTX, data("n1"))
    export = exported(store)
    target = open_empty()
    kept = target.create_session(CTX, data("kept"))

    with raises_code(ErrorCode.CONFLICT):
        target.import_events(io.StringIO(export))

    report = target.verify()
    assert (report.ok, report.events) == (True, 1)
    assert target.get_session(kept) == data("kept")


def test_import_of_a_tampered_file_is_refused_and_writes_nothing(
    store: AuditedSessionStore,
    fake_clock: FakeClock,
    open_empty: Callable[[], AuditedSessionStore],
) -> None:
    keys = populate(store, fake_clock)
    export = exported(store)
    assert '"first.2"' in export
    target = open_empty()

    with raises_invalid():
        target.import_events(io.StringIO(export.replace('"first.2"', '"forged"')))

    assert_empty(target, keys)


def test_import_of_a_file_with_an_event_left_out_is_refused(
    store: AuditedSessionStore,
    fake_clock: FakeClock,
    open_empty: Callable[[], AuditedSessionStore],
) -> None:
    keys = populate(store, fake_clock)
    lines = exported(store).splitlines(keepends=True)
    target = open_empty()

    with raises_invalid():
        target.import_events(io.StringIO("".join(lines[:1] + lines[2:])))

    assert_empty(target, keys)


def test_import_of_a_file_that_is_not_an_export_is_refused(
    store: AuditedSessionStore,
) -> None:
    with raises_invalid():
        store.import_events(io.StringIO('{"hello": "world"}\n'))
    with raises_invalid():
        store.import_events(io.StringIO("not json\n"))

    assert store.verify().events == 0


def assert_empty(store: AuditedSessionStore, keys: list[SessionKey]) -> None:
    report = store.verify()
    assert (report.ok, report.streams, report.events) == (True, 0, 0)
    assert all(store.history(key) == [] for key in keys)
    assert store.find_wait_by_scope(CTX, USER, OTHER_SCOPE) is None
