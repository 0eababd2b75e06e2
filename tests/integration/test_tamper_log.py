"""Tamper evidence in the log: events edited, deleted, swapped or inserted directly in the
SQLite and PostgreSQL tables, behind the store's back, are named by `verify`."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from greentic_session import AuditedSessionStore, ErrorCode, SessionError, open_store
from greentic_session.domain.chain import ENVELOPE_FIELDS, body_commitment, envelope_hash
from greentic_session.domain.state import stream_id
from tests.conftest import PERSISTENT_BACKENDS
from tests.integration.tamper import (
    CTX,
    SCOPE_A,
    USER,
    RawTables,
    Sessions,
    assert_named,
    problems_naming,
)
from tests.support import make_data, raises_code

pytestmark = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)


# -- a clean store -------------------------------------------------------------------------


def test_a_store_nobody_edited_verifies_clean(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    report = store.verify()
    assert report.ok, report.problems
    assert report.problems == []
    assert report.streams == 2
    assert report.events == 6
    assert len(raw.execute("SELECT originator_id FROM {events}")) == 6


# -- edits to the log ----------------------------------------------------------------------


def test_an_altered_event_is_named_with_its_version(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    topic, state = raw.event(sessions.waiting, 2)
    assert b"node.second" in state
    raw.set_event(sessions.waiting, 2, topic, state.replace(b"node.second", b"node.forged"))

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v2", "altered")
    assert not [p for p in report.problems if p.startswith(sessions.other)]


def test_a_deleted_last_event_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.delete_event(sessions.waiting, 4)

    report = store.verify()

    assert_named(report, sessions.waiting, "v4", "deleted")


def test_a_deleted_middle_event_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.delete_event(sessions.waiting, 2)

    report = store.verify()

    assert_named(report, sessions.waiting, "v2", "deleted")


def test_a_deleted_stream_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute("DELETE FROM {events} WHERE originator_id = ?", (raw.stream(sessions.waiting),))

    report = store.verify()

    assert_named(report, sessions.waiting, "stream deleted")
    assert report.streams == 1


def test_two_swapped_events_are_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    second, third = raw.event(sessions.waiting, 2), raw.event(sessions.waiting, 3)
    raw.set_event(sessions.waiting, 2, *third)
    raw.set_event(sessions.waiting, 3, *second)

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v2")
    assert_named(report, f"{sessions.waiting} v3")


def test_two_events_swapped_in_log_order_are_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    second, third = raw.position(sessions.waiting, 2), raw.position(sessions.waiting, 3)
    spare = max(row[0] for row in raw.execute("SELECT {position} FROM {events}")) + 1
    raw.move_event(sessions.waiting, 2, spare)
    raw.move_event(sessions.waiting, 3, second)
    raw.move_event(sessions.waiting, 2, third)

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v2", "reordered")


def test_an_altered_event_with_a_recomputed_hash_is_caught_by_the_head(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """An editor who knows the hash recipe can make the last event look sound; the head
    the store recorded with the write still tells."""
    topic, stored = raw.event(sessions.waiting, 4)
    state = json.loads(stored)
    state["data"]["cursor"]["node_pointer"] = "node.forged"
    body = {name: value for name, value in state.items() if name not in ENVELOPE_FIELDS}
    recorded_at = datetime.fromisoformat(state["timestamp"]["_data_"])
    state["commitment"] = body_commitment(state["salt"], body)
    state["hash"] = envelope_hash(
        stream_id(sessions.waiting),
        4,
        "Session.Updated",
        recorded_at,
        state["prev_hash"],
        state["commitment"],
    )
    raw.set_event(sessions.waiting, 4, topic, json.dumps(state).encode())

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v4", "not the event the store wrote")
    assert not problems_naming(report, "altered")  # the event itself checks out
    assert not problems_naming(report, "does not follow")
    assert store.history(sessions.waiting)[-1].data == make_data(CTX, node="node.forged")


def test_an_unreadable_event_is_named_and_rebuild_refuses_to_run(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    topic, _ = raw.event(sessions.waiting, 2)
    raw.set_event(sessions.waiting, 2, topic, b"not an event")

    assert_named(store.verify(), f"{sessions.waiting} v2", "unreadable")
    with raises_code(ErrorCode.INTERNAL):
        store.rebuild_projections()
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == sessions.waiting
    assert store.get_session(sessions.waiting) == make_data(CTX, node="node.fourth")


def test_an_event_inserted_after_the_last_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT originator_id, 5, topic, state FROM {events} "
        "WHERE originator_id = ? AND originator_version = 4",
        (raw.stream(sessions.waiting),),
    )

    report = store.verify()

    assert_named(report, f"{sessions.waiting} v5")
    assert_named(report, sessions.waiting, "inserted")


def test_an_inserted_stream_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """A copy of a whole stream under another stream id is not the store's, and says so
    without blaming the stream it was copied from."""
    intruder = raw.stream("intruder")
    raw.execute(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT ?, originator_version, topic, state FROM {events} "
        "WHERE originator_id = ? ORDER BY originator_version",
        (intruder, raw.stream(sessions.other)),
    )

    report = store.verify()

    assert_named(report, str(stream_id("intruder")), "inserted")
    assert report.streams == 3
    assert not [p for p in report.problems if p.startswith(sessions.other)]


# -- damage that reads, or does not: reported, never raised --------------------------------


def test_an_added_top_level_field_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """The hash covers the event's body, not its stored field names: the field set does."""
    topic, stored = raw.event(sessions.waiting, 2)
    state = json.loads(stored)
    state["note"] = "added"
    raw.set_event(sessions.waiting, 2, topic, json.dumps(state, separators=(",", ":")).encode())

    assert_named(store.verify(), f"{sessions.waiting} v2", "unreadable", "note")


def test_a_payload_written_with_other_spacing_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    topic, stored = raw.event(sessions.other, 2)
    raw.set_event(sessions.other, 2, topic, json.dumps(json.loads(stored), indent=1).encode())

    assert_named(store.verify(), f"{sessions.other} v2", "byte for byte")


def test_history_of_an_unreadable_stream_raises_internal_naming_it(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    topic, _ = raw.event(sessions.waiting, 3)
    raw.set_event(sessions.waiting, 3, topic, b"[]")

    with pytest.raises(SessionError) as error:
        store.history(sessions.waiting)

    assert error.value.code is ErrorCode.INTERNAL
    assert f"{sessions.waiting} v3" in error.value.message
    assert "run verify" in error.value.message


def test_history_of_a_stream_missing_its_first_event_raises_internal(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.delete_event(sessions.other, 1)

    with raises_code(ErrorCode.INTERNAL):
        store.history(sessions.other)


def test_a_store_whose_first_event_is_not_json_opens_and_verify_names_it(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables, store_url: str
) -> None:
    """Not taken for an encrypted store: the next events read without a key."""
    topic, _ = raw.event(sessions.waiting, 1)
    raw.set_event(sessions.waiting, 1, topic, b"\xff\xfe not json")

    with open_store(store_url) as reopened:
        report = reopened.verify()

    assert_named(report, "v1", "unreadable")
