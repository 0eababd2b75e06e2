"""How a session ends (removed, cleared, expired) and what its key does afterwards:
not found, no longer a wait, and a new life on the same key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from greentic_session import SessionStore
from tests.contract.helpers import (
    CTX,
    SCOPE_A,
    SCOPE_B,
    TTL,
    USER,
    data_for,
    find_by_user,
    raises_not_found,
    wait,
)
from tests.support import FakeClock, make_ctx

# -- not found -----------------------------------------------------------------------------

ENDINGS = ["never-created", "removed", "cleared", "expired"]


def ended_session(store: SessionStore, clock: FakeClock, how: str) -> str:
    """A key with no live session, reached the way `how` says."""
    key = f"session-{how}"
    if how == "never-created":
        return key
    wait(store, key, ttl=TTL if how == "expired" else None)
    if how == "removed":
        store.remove_session(key)
    elif how == "cleared":
        store.clear_wait(CTX, USER, SCOPE_A)
    else:
        clock.advance(TTL + timedelta(seconds=1))
    return key


@pytest.mark.parametrize("how", ENDINGS)
def test_update_without_live_session_is_not_found(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = ended_session(store, fake_clock, how)
    with raises_not_found(key):
        store.update_session(key, data_for())
    assert store.get_session(key) is None


@pytest.mark.parametrize("how", ENDINGS)
def test_remove_without_live_session_is_not_found(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = ended_session(store, fake_clock, how)
    with raises_not_found(key):
        store.remove_session(key)


@pytest.mark.parametrize("how", ENDINGS)
def test_get_without_live_session_is_none(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = ended_session(store, fake_clock, how)
    assert store.get_session(key) is None


@pytest.mark.parametrize("how", ENDINGS)
def test_ended_session_is_no_longer_a_wait(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    ended_session(store, fake_clock, how)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == []
    assert find_by_user(store, CTX, USER) is None


def test_removing_twice_is_not_found(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    store.remove_session(key)
    with raises_not_found(key):
        store.remove_session(key)


# -- clear_wait ----------------------------------------------------------------------------


def test_clear_wait_ends_the_session(store: SessionStore) -> None:
    wait(store, "k")
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == []


def test_clear_wait_leaves_the_users_other_waits(store: SessionStore) -> None:
    wait(store, "a", SCOPE_A)
    wait(store, "b", SCOPE_B)
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.list_waits_for_user(CTX, USER) == ["b"]
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == "b"


def test_clear_wait_without_a_wait_is_a_no_op(store: SessionStore) -> None:
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.list_waits_for_user(CTX, USER) == []


def test_clear_wait_on_another_scope_leaves_the_wait(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    key = store.create_session(CTX, data_for(node="plain"))
    store.clear_wait(CTX, USER, SCOPE_B)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.get_session(key) == data_for(node="plain")


def test_clear_wait_twice_is_a_no_op(store: SessionStore) -> None:
    wait(store, "k")
    store.clear_wait(CTX, USER, SCOPE_A)
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.get_session("k") is None


# -- removal and rebirth -------------------------------------------------------------------


def test_removing_a_waiting_session_drops_its_wait(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    wait(store, "other", SCOPE_B)
    store.remove_session("k")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == ["other"]


@pytest.mark.parametrize("how", ["removed", "cleared", "expired"])
def test_register_wait_on_an_ended_key_starts_a_new_life(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = ended_session(store, fake_clock, how)
    wait(store, key, SCOPE_B, data=data_for(node="reborn"))
    assert store.get_session(key) == data_for(node="reborn")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == key
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == [key]


@pytest.mark.parametrize("how", ["removed", "cleared", "expired"])
def test_a_new_life_may_have_another_context(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = ended_session(store, fake_clock, how)
    bob = make_ctx(team="red", user="bob")
    wait(store, key, SCOPE_A, ctx=bob, user="bob")
    assert store.find_wait_by_scope(bob, "bob", SCOPE_A) == key
    assert store.list_waits_for_user(CTX, USER) == []


def test_reborn_session_can_be_updated_and_removed(store: SessionStore) -> None:
    wait(store, "k")
    store.remove_session("k")
    wait(store, "k")
    store.update_session("k", data_for(node="updated"))
    assert store.get_session("k") == data_for(node="updated")
    store.remove_session("k")
    assert store.get_session("k") is None


def test_reborn_session_does_not_expire_with_the_old_life(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "k", ttl=TTL)
    store.remove_session("k")
    wait(store, "k")
    fake_clock.advance(TTL * 2)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
