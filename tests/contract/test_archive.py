"""Archive: the streams of sessions that ended before an instant leave the live log for an
archive file, a tombstone each, and verify, history, a new life, rebuild, import and
export carry on through the tombstones. On every backend."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from greentic_session import AsyncSessionStore, open_store
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.adapters.storage.encryption import new_key
from greentic_session.adapters.storage.log_access import EndedStream
from greentic_session.domain.audit import EventType
from greentic_session.domain.errors import SessionError
from greentic_session.domain.state import stream_id
from greentic_session.domain.store import AuditedSessionStore
from tests.conftest import Databases
from tests.contract.async_fixtures import run_async
from tests.contract.helpers import CTX, SCOPE_B, USER, data_for, wait
from tests.support import FakeClock

HOUR = timedelta(hours=1)


def ended_and_live(store: AuditedSessionStore, clock: FakeClock) -> None:
    """Two sessions ended an hour before the clock's now (removed, cleared), one ended
    just now, one live."""
    wait(store, "removed-early")
    store.remove_session("removed-early")
    wait(store, "cleared-early", SCOPE_B)
    store.clear_wait(CTX, USER, SCOPE_B)
    wait(store, "live")
    clock.advance(HOUR)
    wait(store, "removed-late", SCOPE_B)
    store.remove_session("removed-late")


def archived(store: AuditedSessionStore, clock: FakeClock) -> tuple[io.StringIO, Any]:
    ended_and_live(store, clock)
    fp = io.StringIO()
    report = store.archive(ended_before=clock.now - timedelta(minutes=1), to=fp)
    return fp, report


def keys_in_log(store: AuditedSessionStore) -> set[str]:
    assert isinstance(store, EventSourcedSessionStore)
    return {str(event.originator_id) for event in store.events()}


def test_archive_moves_exactly_the_sessions_ended_before_the_instant(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    fp, report = archived(store, fake_clock)
    assert (report.streams, report.events) == (2, 6)
    assert keys_in_log(store) == {str(stream_id("live")), str(stream_id("removed-late"))}
    lines = [json.loads(line) for line in fp.getvalue().splitlines()]
    assert {line["session_key"] for line in lines if "session_key" in line} == {
        "removed-early",
        "cleared-early",
    }
    assert lines[-1]["archive"]["digest"] == report.digest


def test_verify_passes_after_archive_and_names_the_archive(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    _, report = archived(store, fake_clock)
    result = store.verify()
    assert result.ok, result.problems
    assert [(a.digest, a.streams, a.events) for a in result.archived] == [(report.digest, 2, 6)]


def test_history_of_an_archived_key_says_where_its_events_went(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    _, report = archived(store, fake_clock)
    (entry,) = store.history("removed-early")
    assert entry.type is EventType.ARCHIVED
    assert (entry.version, entry.archived_events, entry.archive_digest) == (3, 3, report.digest)


def test_a_new_life_on_an_archived_key_continues_its_chain(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    archived(store, fake_clock)
    tombstone = store.history("removed-early")[0]
    wait(store, "removed-early")
    _, revived, *_ = store.history("removed-early")
    assert (revived.version, revived.prev_hash) == (4, tombstone.hash)
    assert store.get_session("removed-early") is not None
    assert store.verify().ok


def test_explain_names_a_new_life_on_an_archived_key(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    archived(store, fake_clock)
    wait(store, "cleared-early", SCOPE_B)
    assert store.explain(CTX, USER, SCOPE_B).session_key == "cleared-early"


def test_rebuild_after_archive_gives_the_same_read_models(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    archived(store, fake_clock)
    wait(store, "cleared-early", SCOPE_B)
    assert isinstance(store, EventSourcedSessionStore)
    before = store.current_read_models()
    assert store.replay_read_models() == before
    store.rebuild_projections()
    assert store.current_read_models() == before
    assert store.verify().ok


def test_a_second_run_archives_nothing_more(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    archived(store, fake_clock)
    later = fake_clock.now + timedelta(seconds=1)
    again = store.archive(ended_before=later, to=io.StringIO())
    assert (again.streams, again.events) == (1, 3)  # only removed-late, ended since
    assert store.archive(ended_before=later, to=io.StringIO()).streams == 0
    assert store.verify().ok


def test_a_stream_revived_between_listing_and_archiving_is_left_alone(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    ended_and_live(store, fake_clock)
    assert isinstance(store, EventSourcedSessionStore)
    recorder: Any = store.session_log.recorder
    listing: Callable[[str, int], list[EndedStream]] = recorder.ended_streams

    def revive_after_listing(after: str, limit: int) -> list[EndedStream]:
        page = listing(after, limit)
        if page:
            wait(store, "removed-early")
        return page

    recorder.ended_streams = revive_after_listing
    report = store.archive(ended_before=fake_clock.now, to=io.StringIO())
    assert report.streams == 1
    assert [e.type for e in store.history("removed-early")][-1] is EventType.WAIT_REGISTERED
    assert len(store.history("removed-early")) == 5
    assert store.verify().ok


def test_an_archive_imports_into_an_empty_store_and_verifies(
    store: AuditedSessionStore, fake_clock: FakeClock, databases: Databases
) -> None:
    fp, report = archived(store, fake_clock)
    with open_store(databases.new_url()) as empty:
        assert empty.import_events(io.StringIO(fp.getvalue())) == report.events
        assert empty.verify().ok
        assert [e.type for e in empty.history("removed-early")][-1] is EventType.REMOVED


def test_an_archive_with_a_changed_line_does_not_import(
    store: AuditedSessionStore, fake_clock: FakeClock, databases: Databases
) -> None:
    fp, _ = archived(store, fake_clock)
    lines = fp.getvalue().splitlines(keepends=True)
    lines[0] = lines[0].replace('"position": ', '"position": 1')
    with open_store(databases.new_url()) as empty, pytest.raises(SessionError) as raised:
        empty.import_events(io.StringIO("".join(lines)))
    assert "digest" in raised.value.message


def test_export_and_import_keep_the_tombstones(
    store: AuditedSessionStore, fake_clock: FakeClock, databases: Databases
) -> None:
    archived(store, fake_clock)
    wait(store, "cleared-early", SCOPE_B)
    exported = io.StringIO()
    store.export_events(exported)
    with open_store(databases.new_url()) as copy:
        copy.import_events(io.StringIO(exported.getvalue()))
        assert copy.verify().ok
        assert copy.history("removed-early") == store.history("removed-early")
        assert copy.history("cleared-early")[0].type is EventType.ARCHIVED


def test_a_due_expiry_not_yet_recorded_is_not_archived(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "due", ttl=timedelta(minutes=1))
    fake_clock.advance(HOUR)
    assert store.archive(ended_before=fake_clock.now, to=io.StringIO()).streams == 0
    store.sweep_expired()
    assert store.archive(ended_before=fake_clock.now, to=io.StringIO()).streams == 1


def test_archive_records_who_archived(store: AuditedSessionStore, fake_clock: FakeClock) -> None:
    ended_and_live(store, fake_clock)
    store.archive(ended_before=fake_clock.now, to=io.StringIO(), ctx=CTX)
    assert store.history("removed-early")[0].actor == USER


def test_archive_of_an_encrypted_store_verifies_and_imports(
    store_url: str, fake_clock: FakeClock, databases: Databases
) -> None:
    key = new_key()
    with open_store(store_url, clock=fake_clock, encryption_key=key) as encrypted:
        ended_and_live(encrypted, fake_clock)
        fp = io.StringIO()
        report = encrypted.archive(ended_before=fake_clock.now, to=fp)
        assert report.streams == 2 and encrypted.verify().ok
    with open_store(databases.new_url(), encryption_key=new_key()) as other:
        assert other.import_events(io.StringIO(fp.getvalue())) == report.events
        assert other.verify().ok


def test_archive_before_a_naive_instant_is_invalid_input(store: AuditedSessionStore) -> None:
    with pytest.raises(SessionError, match="timezone-aware"):
        store.archive(ended_before=CLOCK_NAIVE, to=io.StringIO())


CLOCK_NAIVE = FakeClock().now.replace(tzinfo=None)


def test_the_async_store_archives_on_its_worker_thread(
    store_url: str, fake_clock: FakeClock
) -> None:
    async def body(store: AsyncSessionStore) -> tuple[int, bool]:
        await store.register_wait(CTX, USER, SCOPE_B, "gone", data_for())
        await store.remove_session("gone")
        fake_clock.advance(HOUR)
        report = await store.archive(ended_before=fake_clock.now, to=io.StringIO())
        return report.streams, (await store.verify()).ok

    assert run_async(store_url, fake_clock, body) == (1, True)


class FailingFile(io.StringIO):
    """A file that fails once `lines` lines were written (a full disk)."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.left = lines

    def write(self, text: str) -> int:
        if self.left == 0:
            raise OSError(28, "No space left on device")
        self.left -= 1
        return super().write(text)


def test_a_batch_whose_file_fails_archives_nothing_and_is_cut_from_the_file(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    ended_and_live(store, fake_clock)
    before = store.history("removed-early")
    fp = FailingFile(lines=4)  # the first stream's 3 lines, then one of the second
    with pytest.raises(OSError):
        store.archive(ended_before=fake_clock.now, to=fp)
    assert store.history("removed-early") == before
    assert store.verify().archived == []
    assert fp.getvalue() == ""


def test_a_key_archived_twice_keeps_both_stretches_and_its_second_archive_imports_alone(
    store: AuditedSessionStore, fake_clock: FakeClock, databases: Databases
) -> None:
    archived(store, fake_clock)
    wait(store, "removed-early")
    store.remove_session("removed-early")
    fake_clock.advance(HOUR)
    second = io.StringIO()
    assert store.archive(ended_before=fake_clock.now, to=second).streams == 2
    entries = store.history("removed-early")
    assert [(e.type, e.version, e.archived_events) for e in entries] == [
        (EventType.ARCHIVED, 3, 3),
        (EventType.ARCHIVED, 6, 3),
    ]
    assert store.verify().ok
    with open_store(databases.new_url()) as empty:
        empty.import_events(io.StringIO(second.getvalue()))
        assert empty.verify().ok
        assert [e.version for e in empty.history("removed-early")] == [3, 4, 5, 6]


def test_an_archived_version_is_not_readable_and_says_where_it_went(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    _, report = archived(store, fake_clock)
    with pytest.raises(SessionError, match=report.digest):
        store.get_session_at("removed-early", version=2)
