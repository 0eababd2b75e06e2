"""TTLs and expiry, decided by the store's clock (`fake_clock`), to the microsecond."""

from __future__ import annotations

from datetime import timedelta

import pytest

from greentic_session import ErrorCode, SessionError, SessionStore
from tests.conftest import open_store
from tests.contract.helpers import (
    CTX,
    SCOPE_A,
    SCOPE_B,
    SCOPE_C,
    TTL,
    USER,
    data_for,
    find_by_user,
    raises_not_found,
    wait,
)
from tests.support import FakeClock, make_scope


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-30)], ids=["zero", "negative"])
def test_zero_or_negative_ttl_is_already_expired(store: SessionStore, ttl: timedelta) -> None:
    wait(store, "k", ttl=ttl)
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == []
    with raises_not_found("k"):
        store.update_session("k", data_for())


def test_zero_ttl_on_a_live_session_ends_it(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    wait(store, key, ttl=timedelta(0))
    assert store.get_session(key) is None


def test_wait_is_live_before_its_deadline(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL - timedelta(seconds=1))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.list_waits_for_user(CTX, USER) == ["k"]
    assert store.get_session("k") == data_for(node="node.k")


def test_wait_is_gone_after_its_deadline(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL + timedelta(seconds=1))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == []
    assert store.get_session("k") is None


def test_wait_is_gone_at_its_deadline(store: SessionStore, fake_clock: FakeClock) -> None:
    """A zero TTL counts as expired, so the deadline instant itself is past."""
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL)
    assert store.get_session("k") is None


def test_expired_wait_is_not_resumed(store: SessionStore, fake_clock: FakeClock) -> None:
    """The Rust crate's case, on a fake clock instead of sleeping."""
    scope = make_scope("webchat:thread-expire")
    wait(store, "wait-expire", scope, ttl=timedelta(milliseconds=30))
    fake_clock.advance(timedelta(milliseconds=60))
    assert store.find_wait_by_scope(CTX, USER, scope) is None
    assert store.list_waits_for_user(CTX, USER) == []


def test_update_session_keeps_the_wait(store: SessionStore) -> None:
    wait(store, "k")
    store.update_session("k", data_for(node="updated"))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert find_by_user(store, CTX, USER) == ("k", data_for(node="updated"))


def test_update_session_keeps_the_expiry(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL / 2)
    store.update_session("k", data_for(node="updated"))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    fake_clock.advance(TTL / 2 + timedelta(seconds=1))
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_clear_wait_of_an_expired_wait_does_not_raise(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL * 2)
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.get_session("k") is None


def test_register_wait_with_a_new_ttl_moves_the_deadline(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL / 2)
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL / 2 + timedelta(seconds=1))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    fake_clock.advance(TTL / 2)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_register_wait_without_ttl_removes_the_expiry(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "k", ttl=TTL)
    wait(store, "k")
    fake_clock.advance(TTL * 2)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"


def test_each_wait_expires_on_its_own_deadline(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "short", SCOPE_A, ttl=TTL)
    wait(store, "long", SCOPE_B, ttl=TTL * 3)
    wait(store, "forever", SCOPE_C)
    fake_clock.advance(TTL * 2)
    assert store.list_waits_for_user(CTX, USER) == ["long", "forever"]
    fake_clock.advance(TTL * 2)
    assert store.list_waits_for_user(CTX, USER) == ["forever"]


def test_expiry_uses_the_real_clock_by_default(store_url: str) -> None:
    with open_store(store_url) as real_time_store:
        wait(real_time_store, "hour", SCOPE_A, ttl=timedelta(hours=1))
        wait(real_time_store, "none", SCOPE_B, ttl=timedelta(0))
        assert real_time_store.find_wait_by_scope(CTX, USER, SCOPE_A) == "hour"
        assert real_time_store.find_wait_by_scope(CTX, USER, SCOPE_B) is None
        assert real_time_store.get_session("none") is None


def test_expiry_is_exact_to_the_microsecond(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "k", ttl=timedelta(microseconds=1500))
    fake_clock.advance(timedelta(microseconds=1499))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    fake_clock.advance(timedelta(microseconds=1))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_a_huge_ttl_never_fails_with_a_foreign_error(store: SessionStore) -> None:
    """Beyond the calendar, a TTL is either accepted or refused as invalid input."""
    try:
        wait(store, "k", ttl=timedelta.max)
    except SessionError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        assert store.get_session("k") is None
    else:
        assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
