"""Durability: what a persistent store (SQLite, PostgreSQL) holds survives close and
reopen."""

from __future__ import annotations

from datetime import timedelta

import pytest

from greentic_session import ErrorCode, SessionError, SessionStore
from tests.conftest import open_store
from tests.integration.persistence import CTX, SCOPES, TTL, USER, persistent
from tests.support import FakeClock, make_data


def reopen(store_url: str, clock: FakeClock) -> SessionStore:
    return open_store(store_url, clock=clock)


@persistent
def test_sessions_survive_close_and_reopen(store_url: str, fake_clock: FakeClock) -> None:
    data = make_data(CTX, node="persisted", context_json='{"kept":"ü \\"q\\" \x00"}')
    with reopen(store_url, fake_clock) as first:
        key = first.create_session(CTX, data)
    with reopen(store_url, fake_clock) as second:
        assert second.get_session(key) == data


@persistent
def test_waits_and_their_order_survive_close_and_reopen(
    store_url: str, fake_clock: FakeClock
) -> None:
    with reopen(store_url, fake_clock) as first:
        for key, scope in zip(["c", "a", "b"], SCOPES[:3], strict=True):
            first.register_wait(CTX, USER, scope, key, make_data(CTX, node=key))
        first.register_wait(CTX, USER, SCOPES[1], "a", make_data(CTX, node="a2"))
    with reopen(store_url, fake_clock) as second:
        assert second.list_waits_for_user(CTX, USER) == ["c", "b", "a"]
        assert second.find_wait_by_scope(CTX, USER, SCOPES[1]) == "a"
        assert second.get_session("a") == make_data(CTX, node="a2")


@persistent
def test_order_keeps_growing_after_reopen(store_url: str, fake_clock: FakeClock) -> None:
    with reopen(store_url, fake_clock) as first:
        first.register_wait(CTX, USER, SCOPES[0], "old", make_data(CTX))
        first.register_wait(CTX, USER, SCOPES[1], "older", make_data(CTX))
    with reopen(store_url, fake_clock) as second:
        second.register_wait(CTX, USER, SCOPES[2], "new", make_data(CTX))
        second.register_wait(CTX, USER, SCOPES[0], "old", make_data(CTX))
        assert second.list_waits_for_user(CTX, USER) == ["older", "new", "old"]


@persistent
def test_expiry_survives_close_and_reopen(store_url: str, fake_clock: FakeClock) -> None:
    with reopen(store_url, fake_clock) as first:
        first.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX), TTL)
    fake_clock.advance(TTL - timedelta(seconds=1))
    with reopen(store_url, fake_clock) as second:
        assert second.find_wait_by_scope(CTX, USER, SCOPES[0]) == "k"
    fake_clock.advance(timedelta(seconds=2))
    with reopen(store_url, fake_clock) as third:
        assert third.find_wait_by_scope(CTX, USER, SCOPES[0]) is None
        assert third.get_session("k") is None


@persistent
def test_ended_sessions_stay_ended_after_reopen(store_url: str, fake_clock: FakeClock) -> None:
    with reopen(store_url, fake_clock) as first:
        removed = first.create_session(CTX, make_data(CTX))
        first.remove_session(removed)
        first.register_wait(CTX, USER, SCOPES[0], "cleared", make_data(CTX))
        first.clear_wait(CTX, USER, SCOPES[0])
    with reopen(store_url, fake_clock) as second:
        assert second.get_session(removed) is None
        assert second.get_session("cleared") is None
        assert second.list_waits_for_user(CTX, USER) == []
        with pytest.raises(SessionError) as error:
            second.remove_session(removed)
        assert error.value.code is ErrorCode.NOT_FOUND


@persistent
def test_superseded_state_survives_close_and_reopen(store_url: str, fake_clock: FakeClock) -> None:
    with reopen(store_url, fake_clock) as first:
        first.register_wait(CTX, USER, SCOPES[0], "first", make_data(CTX, node="first"))
        first.register_wait(CTX, USER, SCOPES[0], "second", make_data(CTX, node="second"))
    with reopen(store_url, fake_clock) as second:
        assert second.find_wait_by_scope(CTX, USER, SCOPES[0]) == "second"
        assert second.list_waits_for_user(CTX, USER) == ["second"]
        assert second.get_session("first") == make_data(CTX, node="first")
        second.remove_session("first")
        assert second.find_wait_by_scope(CTX, USER, SCOPES[0]) == "second"


@persistent
def test_a_reborn_key_survives_close_and_reopen(store_url: str, fake_clock: FakeClock) -> None:
    with reopen(store_url, fake_clock) as first:
        first.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX, node="life-1"))
        first.remove_session("k")
        first.register_wait(CTX, USER, SCOPES[1], "k", make_data(CTX, node="life-2"))
    with reopen(store_url, fake_clock) as second:
        assert second.get_session("k") == make_data(CTX, node="life-2")
        assert second.find_wait_by_scope(CTX, USER, SCOPES[0]) is None
        assert second.find_wait_by_scope(CTX, USER, SCOPES[1]) == "k"
