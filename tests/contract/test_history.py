"""`history`: every event of a key across its lives, in log order, chained and traced."""

from __future__ import annotations

from datetime import timedelta

from greentic_session import AuditedSessionStore, EventType
from tests.contract.audit_helpers import (
    CTX,
    SCOPE,
    STEP,
    TTL,
    USER,
    data,
    later,
    raises_invalid,
    wait,
)
from tests.support import FakeClock


def test_history_lists_every_event_across_lives_oldest_first(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    start = fake_clock.now
    key = store.create_session(CTX, data("n1"))
    later(fake_clock)
    store.update_session(key, data("n2"))
    later(fake_clock)
    wait(store, key, "n3")
    later(fake_clock)
    store.clear_wait(CTX, USER, SCOPE)  # the first life ends
    later(fake_clock)
    wait(store, key, "n5")  # a second life: created again, then waiting
    later(fake_clock)
    store.remove_session(key)

    history = store.history(key)

    assert [event.type for event in history] == [
        EventType.CREATED,
        EventType.UPDATED,
        EventType.WAIT_REGISTERED,
        EventType.WAIT_CLEARED,
        EventType.CREATED,
        EventType.WAIT_REGISTERED,
        EventType.REMOVED,
    ]
    assert [event.version for event in history] == [1, 2, 3, 4, 5, 6, 7]
    assert {event.session_key for event in history} == {key}
    nodes = [None if e.data is None else e.data.cursor.node_pointer for e in history]
    assert nodes == ["n1", "n2", "n3", None, "n5", "n5", None]
    minutes = [0, 1, 2, 3, 4, 4, 5]
    assert [event.recorded_at for event in history] == [start + m * STEP for m in minutes]
    assert all(event.recorded_at.utcoffset() == timedelta(0) for event in history)
    positions = [event.position for event in history]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_history_positions_are_places_in_the_global_log(store: AuditedSessionStore) -> None:
    first = store.create_session(CTX, data("a.1"))
    second = store.create_session(CTX, data("b.1"))
    store.update_session(first, data("a.2"))

    (a1, a2), (b1,) = store.history(first), store.history(second)

    assert a1.position < b1.position < a2.position


def test_history_of_a_wait_names_its_scope_user_and_deadline(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", ttl=TTL)
    store.clear_wait(CTX, USER, SCOPE)

    created, registered, cleared = store.history(key)

    assert (created.scope, created.user_id, created.expires_at) == (None, None, None)
    assert registered.scope == SCOPE
    assert registered.user_id == USER
    assert registered.expires_at == fake_clock.now + TTL
    assert (cleared.scope, cleared.user_id) == (SCOPE, USER)
    assert cleared.data is None


def test_history_records_the_callers_trace_ids(store: AuditedSessionStore) -> None:
    traced = CTX.model_copy(
        update={"trace_id": "t-1", "correlation_id": "c-1", "provider_id": "p-1"}
    )
    key = store.create_session(traced, data("n1"))  # the data's context has no trace ids
    wait(store, key, "n2", ctx=CTX.model_copy(update={"trace_id": "t-2"}))
    store.remove_session(key)  # no caller context at all

    created, registered, removed = store.history(key)

    assert (created.trace_id, created.correlation_id, created.provider_id) == ("t-1", "c-1", "p-1")
    assert created.actor == USER
    assert (registered.trace_id, registered.correlation_id, registered.provider_id) == (
        "t-2",
        None,
        None,
    )
    assert (removed.trace_id, removed.correlation_id, removed.provider_id) == (None, None, None)


def test_history_chains_each_event_to_the_one_before(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1"))
    store.update_session(key, data("n2"))
    wait(store, key, "n3")

    history = store.history(key)

    assert history[0].prev_hash == ""
    assert [e.prev_hash for e in history[1:]] == [e.hash for e in history[:-1]]
    assert len({e.hash for e in history}) == len(history)
    assert all(len(e.hash) == 64 and int(e.hash, 16) >= 0 for e in history)


def test_history_names_the_session_that_superseded_a_wait(store: AuditedSessionStore) -> None:
    first = store.create_session(CTX, data("first.1"))
    wait(store, first, "first.2")
    wait(store, "second", "second.1")

    superseded = store.history(first)[-1]

    assert superseded.type is EventType.WAIT_SUPERSEDED
    assert superseded.superseded_by == "second"
    assert superseded.scope == SCOPE
    assert superseded.data == data("first.2")  # its data stays readable


def test_history_of_an_unknown_key_is_empty(store: AuditedSessionStore) -> None:
    assert store.history("never-created") == []


def test_history_of_an_empty_key_is_invalid_input(store: AuditedSessionStore) -> None:
    with raises_invalid():
        store.history("")
