"""`export_events` and `import_events`: the log as JSON lines with its hashes, moved to
another store (and backend) and refused when tampered with."""

from __future__ import annotations

import functools
import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from greentic_session import (
    AuditedSessionStore,
    ErrorCode,
    EventSourcedSessionStore,
    SessionEvent,
    SessionKey,
)
from greentic_session.adapters.service.event_transfer import BATCH_SIZE
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
from tests.support import FakeClock, make_ctx, make_scope, raises_code


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


# -- at scale: batches, streaming, progress ---------------------------------------------


@functools.cache
def export_of(sessions: int) -> str:
    """An export of `sessions` sessions, three events each (created, parked on a scope of
    their own, updated), written through an in-memory store."""
    with open_store("memory://", clock=FakeClock()) as source:
        for n in range(sessions):
            key = source.create_session(CTX, data(f"n{n}.1"))
            wait(source, key, f"n{n}.2", scope=make_scope(f"chat-{n}"), ttl=TTL)
            source.update_session(key, data(f"n{n}.3"))
        return exported(source)


MORE_THAN_TWO_BATCHES = BATCH_SIZE * 2 // 3 + 1  # sessions: 3 events each
MORE_THAN_POSTGRES_PARAMETERS = 70_000 // 4 // 3 + 1  # 4 parameters an event, 3 events each


def assert_imported(target: AuditedSessionStore, export: str) -> None:
    """Every event of `export` is in `target`, in order, with its hashes, and the read
    models are the log's replay (checked without `verify`, whose snapshot of a large log
    is not what these tests are about)."""
    def events(text: str) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in json.loads(line).items() if k != "position"}
            for line in text.splitlines()
        ]

    assert events(exported(target)) == events(export)
    assert isinstance(target, EventSourcedSessionStore)
    assert target.current_read_models() == target.replay_read_models()
    assert len(target.list_waits_for_user(CTX, USER)) == len(export.splitlines()) // 3


def test_an_import_of_more_events_than_one_batch_holds_them_all(
    store: AuditedSessionStore,
) -> None:
    export = export_of(MORE_THAN_TWO_BATCHES)

    assert store.import_events(io.StringIO(export)) == len(export.splitlines())

    assert_imported(store, export)


@pytest.mark.postgres
def test_an_import_past_the_parameters_of_one_postgres_statement_holds_them_all(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Until 0.1.0 an import was one statement: past 65,535 parameters PostgreSQL refused
    it (and the store said `unavailable`)."""
    dsn: str = request.getfixturevalue("pg_dsn")
    postgres = Databases("postgres", tmp_path, dsn)
    request.addfinalizer(postgres.drop_all)
    export = export_of(MORE_THAN_POSTGRES_PARAMETERS)
    with open_store(postgres.new_url(), clock=FakeClock()) as target:
        assert target.import_events(io.StringIO(export)) == len(export.splitlines())

        assert_imported(target, export)


def test_a_bad_line_after_many_good_ones_is_refused_and_writes_nothing(
    store: AuditedSessionStore,
) -> None:
    lines = export_of(MORE_THAN_TWO_BATCHES).splitlines(keepends=True)
    last = lines[-1].replace(f'"n{MORE_THAN_TWO_BATCHES - 1}.3"', '"forged"')
    assert last != lines[-1]

    with raises_invalid():
        store.import_events(io.StringIO("".join([*lines[:-1], last])))

    assert_empty(store, [])


def test_an_import_reads_a_file_that_cannot_seek(store: AuditedSessionStore) -> None:
    export = export_of(10)
    read_end, write_end = os.pipe()

    def feed() -> None:
        with open(write_end, "w", encoding="utf-8") as sink:
            sink.write(export)

    writer = threading.Thread(target=feed)
    writer.start()
    with open(read_end, encoding="utf-8") as pipe:
        assert not pipe.seekable()
        count = store.import_events(pipe)
    writer.join()

    assert count == 30
    assert_imported(store, export)


def test_import_reports_lines_checked_then_events_written(store: AuditedSessionStore) -> None:
    export = export_of(MORE_THAN_TWO_BATCHES)
    total = len(export.splitlines())
    calls: list[tuple[int, int | None]] = []

    store.import_events(io.StringIO(export), progress=lambda done, of: calls.append((done, of)))

    checking = [done for done, of in calls if of is None]
    writing = [done for done, of in calls if of is not None]
    assert checking and checking == sorted(checking) and checking[-1] <= total
    assert {of for _, of in calls if of is not None} == {total}
    assert len(writing) > 1 and writing == sorted(writing) and writing[-1] == total
    assert calls.index((writing[0], total)) > calls.index((checking[-1], None))


def test_export_reports_the_events_read_out_of_the_log(store: AuditedSessionStore) -> None:
    store.import_events(io.StringIO(export_of(MORE_THAN_TWO_BATCHES)))
    last = store.verify().events
    calls: list[tuple[int, int | None]] = []

    exported_count = store.export_events(
        io.StringIO(), progress=lambda done, of: calls.append((done, of))
    )

    assert exported_count == last
    assert len(calls) > 1 and {of for _, of in calls} == {last}
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (last, last)


def test_export_leaves_out_events_written_after_it_started(
    store: AuditedSessionStore,
) -> None:
    """It reads up to the log's last position when it starts, a page at a time: a write
    between two pages is not in it (and does not break it)."""
    store.import_events(io.StringIO(export_of(MORE_THAN_TWO_BATCHES)))
    before = store.verify().events
    written: list[SessionKey] = []

    def write_once(done: int, of: int | None) -> None:
        if not written:
            written.append(store.create_session(CTX, data("late")))

    buffer = io.StringIO()
    assert store.export_events(buffer, progress=write_once) == before

    assert written and written[0] not in buffer.getvalue()
    assert store.verify().events == before + 1
