"""A second wait on the same scope takes over routing; the superseded session lives on."""

from __future__ import annotations

from greentic_session import SessionStore
from tests.contract.helpers import CTX, SCOPE_A, SCOPE_B, TTL, USER, data_for, find_by_user, wait
from tests.support import FakeClock


def test_second_wait_on_the_same_scope_takes_over_routing(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"


def test_superseded_session_leaves_the_users_waits(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    assert store.list_waits_for_user(CTX, USER) == ["second"]
    assert find_by_user(store, CTX, USER) == ("second", data_for(node="node.second"))


def test_superseded_session_data_stays_readable(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    assert store.get_session("first") == data_for(node="node.first")


def test_superseded_session_can_still_be_updated(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    store.update_session("first", data_for(node="later"))
    assert store.get_session("first") == data_for(node="later")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"


def test_removing_the_superseded_session_keeps_the_new_owners_routing(
    store: SessionStore,
) -> None:
    """Improvement over the reference, which drops the new owner's scope entry here."""
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    store.remove_session("first")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"
    assert store.list_waits_for_user(CTX, USER) == ["second"]


def test_superseded_session_waiting_elsewhere_keeps_the_new_owners_routing(
    store: SessionStore,
) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    wait(store, "first", SCOPE_B)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == "first"
    assert store.list_waits_for_user(CTX, USER) == ["second", "first"]


def test_superseded_session_can_take_its_scope_back(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    wait(store, "first", SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "first"
    assert store.list_waits_for_user(CTX, USER) == ["first"]
    assert store.get_session("second") == data_for(node="node.second")


def test_clear_wait_after_takeover_ends_only_the_new_owner(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.get_session("second") is None
    assert store.get_session("first") == data_for(node="node.first")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_takeover_of_an_expired_wait(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "first", SCOPE_A, ttl=TTL)
    fake_clock.advance(TTL * 2)
    wait(store, "second", SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"
    assert store.list_waits_for_user(CTX, USER) == ["second"]
    assert store.get_session("first") is None


def test_expiry_of_a_superseded_session_keeps_the_new_owners_routing(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "first", SCOPE_A, ttl=TTL)
    wait(store, "second", SCOPE_A)
    fake_clock.advance(TTL * 2)
    assert store.get_session("first") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"
    assert store.list_waits_for_user(CTX, USER) == ["second"]
