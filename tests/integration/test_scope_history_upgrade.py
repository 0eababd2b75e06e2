"""Stores made before the scope history (any store of main before it): the owner's first
open creates it and fills it from the log, once, in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from greentic_session import AuditedSessionStore, EventSourcedSessionStore
from tests.conftest import PERSISTENT_BACKENDS
from tests.integration.tamper import CTX, SCOPE_A, USER, RawTables, Sessions, assert_named

pytestmark = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)


def test_a_store_without_the_scope_history_gets_it_filled_from_its_log_when_opened(
    store: AuditedSessionStore,
    sessions: Sessions,
    raw: RawTables,
    open_another: Callable[[], AuditedSessionStore],
) -> None:
    assert isinstance(store, EventSourcedSessionStore)
    before = store.current_read_models().scope_history
    raw.execute("DROP TABLE {q}gs_scope_history")

    reopened = open_another()

    assert isinstance(reopened, EventSourcedSessionStore)
    assert reopened.current_read_models().scope_history == before
    report = reopened.verify()
    assert report.ok, report.problems
    assert reopened.explain(CTX, USER, SCOPE_A).session_key == sessions.waiting


def test_the_scope_history_is_filled_only_when_it_is_created(
    store: AuditedSessionStore,
    sessions: Sessions,
    raw: RawTables,
    open_another: Callable[[], AuditedSessionStore],
) -> None:
    """An existing table is never filled again on open: a row deleted from it stays
    missing, for verify to name, until a rebuild."""
    raw.execute("DELETE FROM {q}gs_scope_history WHERE session_key = ?", (sessions.other,))

    reopened = open_another()

    assert_named(reopened.verify(), "scope history", sessions.other)


def test_a_store_whose_log_does_not_replay_opens_without_the_scope_history_and_says_so(
    store: AuditedSessionStore,
    sessions: Sessions,
    raw: RawTables,
    open_another: Callable[[], AuditedSessionStore],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing is created from a damaged log: verify still names the damage, not the
    missing table."""
    raw.execute("DROP TABLE {q}gs_scope_history")
    topic, _ = raw.event(sessions.waiting, 2)
    raw.set_event(sessions.waiting, 2, topic, b"not json")

    with caplog.at_level(logging.WARNING):
        reopened = open_another()

    assert "scope history could not be filled" in caplog.text
    report = reopened.verify()
    assert_named(report, f"{sessions.waiting} v2")
    assert not [problem for problem in report.problems if "scope history" in problem]
