"""Tamper evidence in the scope history: its rows deleted, altered or inserted behind the
store's back are named by `verify`; `rebuild_projections` restores them."""

from __future__ import annotations

import pytest

from greentic_session import AuditedSessionStore, EventSourcedSessionStore
from tests.conftest import PERSISTENT_BACKENDS
from tests.integration.tamper import CTX, SCOPE_A, USER, RawTables, Sessions, assert_named

pytestmark = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)


def test_a_deleted_scope_history_row_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute("DELETE FROM {q}gs_scope_history WHERE session_key = ?", (sessions.waiting,))

    report = store.verify()

    assert_named(report, "scope history", f"{sessions.waiting} v3: missing")


def test_an_altered_scope_history_row_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    changed = raw.execute(
        "UPDATE {q}gs_scope_history SET recorded_at = recorded_at - 1000000 "
        "WHERE session_key = ? RETURNING version",
        (sessions.other,),
    )
    assert len(changed) == 1

    report = store.verify()

    assert_named(report, "scope history", sessions.other)
    assert len(report.problems) == 1, report.problems


def test_an_inserted_scope_history_row_is_named(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    raw.execute(
        "INSERT INTO {q}gs_scope_history SELECT scope_key, stream_id, session_key, 9, kind, "
        "recorded_at, near_miss, position + 100 FROM {q}gs_scope_history WHERE session_key = ?",
        (sessions.waiting,),
    )

    report = store.verify()

    assert_named(report, "scope history", f"{sessions.waiting} v9")


def test_rebuild_restores_a_deleted_scope_history_row(
    store: AuditedSessionStore, sessions: Sessions, raw: RawTables
) -> None:
    assert isinstance(store, EventSourcedSessionStore)
    before = store.current_read_models().scope_history
    raw.execute("DELETE FROM {q}gs_scope_history")
    assert store.explain(CTX, USER, SCOPE_A).session_key is None

    store.rebuild_projections()

    assert store.current_read_models().scope_history == before
    report = store.verify()
    assert report.ok, report.problems
    assert store.explain(CTX, USER, SCOPE_A).session_key == sessions.waiting
