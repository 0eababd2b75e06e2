"""Tamper evidence in the read models: rows edited behind the store's back are named by
`verify`; `rebuild_projections` repairs them, but never hides an edited log."""

from __future__ import annotations

import pytest

from greentic_session import AuditedSessionStore
from tests.conftest import PERSISTENT_BACKENDS
from tests.integration.tamper import (
    COLUMNS,
    CTX,
    SCOPE_A,
    USER,
    RawTables,
    Sessions,
    assert_named,
    problems_naming,
)

pytestmark = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)


# -- edits to the read models --------------------------------------------------------------


def test_a_scope_index_row_pointing_at_another_session_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    changed = raw.execute(
        "UPDATE {q}gs_scope_index SET session_key = ? WHERE session_key = ? RETURNING scope_key",
        (sessions.other, sessions.waiting),
    )
    assert len(changed) == 1

    report = store.verify()

    assert_named(report, "scope index", sessions.other, sessions.waiting)


def test_a_changed_session_state_row_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    (data,) = raw.execute(
        "SELECT data FROM {q}gs_session_state WHERE session_key = ?", (sessions.waiting,)
    )[0]
    raw.execute(
        "UPDATE {q}gs_session_state SET data = ? WHERE session_key = ?",
        (data.replace("node.fourth", "node.forged"), sessions.waiting),
    )

    report = store.verify()

    assert_named(report, "session state", sessions.waiting)
    assert store.get_session(sessions.waiting) is not None


def test_a_deleted_user_waits_row_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute("DELETE FROM {q}gs_user_waits WHERE session_key = ?", (sessions.other,))

    report = store.verify()

    assert_named(report, "user waits", sessions.other)


def test_a_changed_session_index_row_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute(
        "UPDATE {q}gs_session_index SET status = 'ended' WHERE session_key = ?",
        (sessions.waiting,),
    )

    report = store.verify()

    assert_named(report, "session index", sessions.waiting)


def test_a_session_index_filter_column_that_does_not_match_its_display_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """A row moved to another tenant's filter would show in that tenant's searches."""
    raw.execute(
        "UPDATE {q}gs_session_index SET tenant = 'tenant-b' WHERE session_key = ?",
        (sessions.other,),
    )

    report = store.verify()

    assert_named(report, "session index", sessions.other, "tenant")


def test_a_deleted_session_index_row_is_named_and_a_rebuild_restores_it(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    found = {s.session_key for s in store.find_sessions().sessions}
    raw.execute("DELETE FROM {q}gs_session_index WHERE session_key = ?", (sessions.other,))
    assert_named(store.verify(), "session index", sessions.other)

    store.rebuild_projections()

    assert store.verify().ok
    assert {s.session_key for s in store.find_sessions().sessions} == found


# -- rebuild: drift goes, tampering stays --------------------------------------------------


def test_rebuild_repairs_a_corrupted_index_row(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute(
        "UPDATE {q}gs_scope_index SET session_key = ? WHERE session_key = ?",
        (sessions.other, sessions.waiting),
    )
    assert problems_naming(store.verify(), "scope index")

    store.rebuild_projections()

    report = store.verify()
    assert report.ok, report.problems
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == sessions.waiting


def test_rebuild_does_not_hide_an_altered_event(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    topic, state = raw.event(sessions.waiting, 2)
    raw.set_event(sessions.waiting, 2, topic, state.replace(b"node.second", b"node.forged"))

    store.rebuild_projections()

    assert_named(store.verify(), f"{sessions.waiting} v2", "altered")


def test_rebuild_does_not_hide_a_deleted_last_event(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    """The heads are the anchor: a rebuild keeps them, so the missing tail still shows."""
    raw.delete_event(sessions.waiting, 4)
    raw.execute(
        "UPDATE {q}gs_scope_index SET session_key = ? WHERE session_key = ?",
        (sessions.other, sessions.waiting),
    )

    store.rebuild_projections()

    report = store.verify()
    assert_named(report, sessions.waiting, "v4", "deleted")
    assert not problems_naming(report, "scope index")


def test_rebuild_does_not_hide_a_deleted_stream(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute("DELETE FROM {events} WHERE originator_id = ?", (raw.stream(sessions.waiting),))

    store.rebuild_projections()

    report = store.verify()
    assert_named(report, sessions.waiting, "stream deleted")
    assert store.get_session(sessions.waiting) is None


# -- rows moved or copied to another stream id ----------------------------------------------

NEW_STREAM = "00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    "table", ["gs_session_state", "gs_user_waits", "gs_stream_heads", "gs_session_index"]
)
def test_a_changed_stream_id_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables, table: str
) -> None:
    changed = raw.execute(
        f"UPDATE {{q}}{table} SET stream_id = ? WHERE session_key = ? RETURNING session_key",
        (NEW_STREAM, sessions.other),
    )
    assert changed

    report = store.verify()

    assert_named(report, sessions.other, NEW_STREAM)


@pytest.mark.parametrize("table", ["gs_session_state", "gs_stream_heads"])
def test_a_duplicate_row_under_a_new_stream_id_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables, table: str
) -> None:
    columns = COLUMNS[table]
    others = ", ".join(c for c in columns if c != "stream_id")
    raw.execute(
        f"INSERT INTO {{q}}{table} (stream_id, {others}) "
        f"SELECT ?, {others} FROM {{q}}{table} WHERE session_key = ?",
        (NEW_STREAM, sessions.other),
    )

    report = store.verify()

    assert_named(report, sessions.other, NEW_STREAM)


def test_a_state_row_whose_data_is_not_json_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute(
        "UPDATE {q}gs_session_state SET data = ? WHERE session_key = ?", ("{", sessions.other)
    )

    assert_named(store.verify(), "session state", sessions.other)
