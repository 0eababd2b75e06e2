"""`explain`: why a reply to a scope reaches a session, or why it reaches none."""

from __future__ import annotations

from datetime import datetime, timedelta

from greentic_session import AuditedSessionStore, SessionKey, UserId
from greentic_session.domain.instants import instant_text
from greentic_session.domain.rules import scope_key, user_key
from tests.contract.audit_helpers import (
    CTX,
    OTHER_SCOPE,
    SCOPE,
    STEP,
    TTL,
    USER,
    data,
    later,
    raises_invalid,
    wait,
)
from tests.support import FakeClock, make_ctx


def test_explain_names_the_waiting_session_and_its_lookup_keys(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key == key == store.find_wait_by_scope(CTX, USER, SCOPE)
    assert explanation.at == fake_clock.now
    assert explanation.user_key == user_key(CTX, UserId(USER))
    assert explanation.scope_key == scope_key(CTX, UserId(USER), SCOPE)
    assert explanation.scope_hash == SCOPE.scope_hash()
    assert key in explanation.reason
    assert len(explanation.trail) == 1 and "registered" in explanation.trail[0]


def test_explain_says_a_scope_was_never_registered(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", scope=OTHER_SCOPE)

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key is None
    assert "never registered" in explanation.reason
    assert explanation.trail == []


def test_explain_says_which_session_superseded_the_wait(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    first = store.create_session(CTX, data("first.1"))
    wait(store, first, "first.2")
    taken = later(fake_clock)
    wait(store, "second", "second.1")

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key == "second"
    assert first in explanation.reason
    assert "superseded by second" in explanation.reason
    assert instant_text(taken) in explanation.reason


def test_explain_says_when_the_wait_was_cleared(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    cleared = later(fake_clock)
    store.clear_wait(CTX, USER, SCOPE)
    later(fake_clock)

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key is None
    assert "cleared" in explanation.reason
    assert key in explanation.reason and instant_text(cleared) in explanation.reason


def test_explain_says_when_the_wait_expired(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    """No write has met the expiry yet: the deadline alone ends the wait."""
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", ttl=TTL)
    deadline = fake_clock.now + TTL
    later(fake_clock, 2 * TTL)

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key is None is store.find_wait_by_scope(CTX, USER, SCOPE)
    assert "expired" in explanation.reason
    assert key in explanation.reason and instant_text(deadline) in explanation.reason


def test_explain_says_when_a_recorded_expiry_ended_the_wait(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", ttl=TTL)
    deadline = fake_clock.now + TTL
    later(fake_clock, 2 * TTL)
    assert store.sweep_expired() == 1

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key is None
    assert "expired" in explanation.reason
    assert key in explanation.reason and instant_text(deadline) in explanation.reason


def test_explain_says_when_the_session_was_removed(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    removed = later(fake_clock)
    store.remove_session(key)

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key is None
    assert "removed" in explanation.reason
    assert key in explanation.reason and instant_text(removed) in explanation.reason


def test_explain_says_the_wait_is_stored_under_another_team(store: AuditedSessionStore) -> None:
    support = make_ctx(team="support", user=USER)
    key = store.create_session(support, data("n1", ctx=support))
    wait(store, key, "n2", ctx=support)
    sales = make_ctx(team="sales", user=USER)

    explanation = store.explain(sales, USER, SCOPE)

    assert explanation.session_key is None is store.find_wait_by_scope(sales, USER, SCOPE)
    assert "differ" in explanation.reason
    assert key in explanation.reason and "team=support" in explanation.reason


def test_explain_says_the_wait_is_stored_under_another_user(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    bob = make_ctx(user="bob")

    explanation = store.explain(bob, "bob", SCOPE)

    assert explanation.session_key is None
    assert "differ" in explanation.reason
    assert key in explanation.reason and f"user={USER}" in explanation.reason


def test_explain_answers_for_a_past_instant(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    start = fake_clock.now
    first = store.create_session(CTX, data("first.1"))
    registered = later(fake_clock)
    wait(store, first, "first.2")
    cleared = later(fake_clock)
    store.clear_wait(CTX, USER, SCOPE)
    taken = later(fake_clock)
    wait(store, "second", "second.1")

    def found(at: datetime) -> SessionKey | None:
        return store.explain(CTX, USER, SCOPE, at=at).session_key

    assert found(start) is None
    assert found(registered) == first
    assert found(cleared - timedelta(microseconds=1)) == first
    assert found(cleared) is None
    assert found(taken) == "second"
    assert "never registered" in store.explain(CTX, USER, SCOPE, at=start).reason
    assert "cleared" in store.explain(CTX, USER, SCOPE, at=cleared).reason


def test_explain_at_a_past_instant_leaves_later_events_out_of_the_trail(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    registered = fake_clock.now
    later(fake_clock)
    store.clear_wait(CTX, USER, SCOPE)

    assert len(store.explain(CTX, USER, SCOPE).trail) == 2
    assert len(store.explain(CTX, USER, SCOPE, at=registered).trail) == 1


def test_explain_at_a_past_instant_sees_a_deadline_that_had_passed(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", ttl=TTL)
    deadline = fake_clock.now + TTL
    later(fake_clock, 3 * TTL)
    store.clear_wait(CTX, USER, SCOPE)  # meets the expiry and records it

    assert store.explain(CTX, USER, SCOPE, at=deadline - STEP).session_key == key
    assert store.explain(CTX, USER, SCOPE, at=deadline).session_key is None
    assert "expired" in store.explain(CTX, USER, SCOPE, at=deadline).reason


def test_explain_at_a_naive_datetime_is_invalid_input(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    with raises_invalid():
        store.explain(CTX, USER, SCOPE, at=fake_clock.now.replace(tzinfo=None))
