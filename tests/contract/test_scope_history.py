"""The scope history: the read model `explain` reads instead of the whole log. Each event
that begins or ends a wait is a row of its scope, with its position, session, version
and time; a rebuild gives the same rows back. (`wait` on a new key: v1 created, v2
registered.)"""

from __future__ import annotations

from greentic_session import (
    AuditedSessionStore,
    EventSourcedSessionStore,
    ReplyScope,
    SessionKey,
    UserId,
)
from greentic_session.domain.rules import near_miss_key, scope_key
from greentic_session.projections.read_models import ScopeEvent
from tests.contract.audit_helpers import (
    CTX,
    OTHER_SCOPE,
    SCOPE,
    TTL,
    USER,
    data,
    later,
    populate,
    wait,
)
from tests.support import FakeClock


def _rows(store: AuditedSessionStore, scope: ReplyScope = SCOPE) -> list[tuple[str, int, str]]:
    """The scope's rows as (session key, version, kind), in log order."""
    assert isinstance(store, EventSourcedSessionStore)
    history = store.current_read_models().scope_history.get(scope_key(CTX, UserId(USER), scope), {})
    ordered = sorted(history.values(), key=lambda row: row.position or 0)
    return [(row.session_key, row.version, row.kind) for row in ordered]


def _row(store: AuditedSessionStore, key: str, version: int) -> ScopeEvent:
    assert isinstance(store, EventSourcedSessionStore)
    history = store.current_read_models().scope_history
    return history[scope_key(CTX, UserId(USER), SCOPE)][(key, version)]


def test_a_registration_is_a_row_with_the_events_position_time_and_near_miss_key(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")

    row = _row(store, key, 2)

    (event,) = [e for e in store.history(key) if e.version == 2]
    assert (row.kind, row.position, row.recorded_at) == (
        "wait_registered",
        event.position,
        event.recorded_at,
    )
    assert row.near_miss == near_miss_key(str(CTX.env), str(CTX.tenant_id), SCOPE.scope_hash())
    assert _rows(store) == [(key, 2, "wait_registered")]


def test_a_superseded_wait_is_a_row_of_the_scope_it_lost(store: AuditedSessionStore) -> None:
    wait(store, "first", "n1")
    wait(store, "second", "n1")

    assert sorted(_rows(store)) == [
        ("first", 2, "wait_registered"),
        ("first", 3, "wait_superseded"),
        ("second", 2, "wait_registered"),
    ]
    assert _row(store, "first", 3).near_miss is None


def test_a_cleared_wait_is_a_row_of_its_scope(store: AuditedSessionStore) -> None:
    wait(store, "s", "n1")
    store.clear_wait(CTX, USER, SCOPE)

    assert _rows(store) == [("s", 2, "wait_registered"), ("s", 3, "wait_cleared")]


def test_a_recorded_expiry_is_a_row_of_its_scope(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "s", "n1", ttl=TTL)
    later(fake_clock, 2 * TTL)
    assert store.sweep_expired() == 1

    assert _rows(store) == [("s", 2, "wait_registered"), ("s", 3, "wait_expired")]


def test_removing_a_waiting_session_is_a_row_of_its_scope(store: AuditedSessionStore) -> None:
    wait(store, "s", "n1")
    store.remove_session("s")

    assert _rows(store) == [("s", 2, "wait_registered"), ("s", 3, "removed")]


def test_a_wait_moved_to_another_scope_is_a_row_of_both(store: AuditedSessionStore) -> None:
    wait(store, "s", "n1")
    wait(store, "s", "n2", scope=OTHER_SCOPE)

    assert _rows(store) == [("s", 2, "wait_registered"), ("s", 3, "wait_moved")]
    assert _rows(store, OTHER_SCOPE) == [("s", 3, "wait_registered")]


def test_events_that_begin_or_end_no_wait_add_no_rows(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1"))
    store.update_session(key, data("n2"))
    store.remove_session(key)
    assert isinstance(store, EventSourcedSessionStore)

    assert store.current_read_models().scope_history == {}


def test_a_new_life_on_an_ended_key_is_a_row_with_its_own_version(
    store: AuditedSessionStore,
) -> None:
    wait(store, "s", "n1")
    store.clear_wait(CTX, USER, SCOPE)
    wait(store, "s", "n2")  # v4 recreated, v5 registered

    assert _rows(store)[-1] == ("s", 5, "wait_registered")


def test_the_scope_history_is_what_the_log_replays_to(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    populate(store, fake_clock)
    assert isinstance(store, EventSourcedSessionStore)

    stored = store.current_read_models().scope_history

    assert stored == store.replay_read_models().scope_history
    assert len(stored) == 2 and sum(len(rows) for rows in stored.values()) == 7


def test_rebuild_gives_back_the_same_scope_history(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    keys = populate(store, fake_clock)
    assert isinstance(store, EventSourcedSessionStore)
    before = store.current_read_models().scope_history

    store.rebuild_projections()

    assert store.current_read_models().scope_history == before
    assert store.explain(CTX, USER, SCOPE).reason.startswith("no session waited")
    assert SessionKey("second") in keys
