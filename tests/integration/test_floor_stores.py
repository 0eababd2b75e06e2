"""The benchmark's floor stores keep the contract: a floor that cut corners would flatter it.

The floors (benchmarks/floor_*.py) are plain tables without a log; these checks run on
each of them through the fixtures of conftest.py (PostgreSQL: a schema per test, skipped
without a server unless CI is set).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial

import pytest

from benchmarks.floors import open_floor
from greentic_session import ErrorCode, SessionError, SessionStore
from tests.conftest import Databases
from tests.support import FakeClock, make_ctx, make_data, make_scope

USER = "alice"
CTX = make_ctx(team="support", user=USER)
SCOPE_A, SCOPE_B = make_scope("chat-a"), make_scope("chat-b", thread="t-1")
TTL = timedelta(minutes=10)


@pytest.fixture
def floor(databases: Databases, fake_clock: FakeClock) -> Iterator[SessionStore]:
    with open_floor(databases.new_url(), clock=fake_clock) as store:
        yield store


def code_of(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(SessionError) as caught:
        call()
    return caught.value.code


def test_create_get_update_remove(floor: SessionStore) -> None:
    key = floor.create_session(CTX, make_data(CTX, node="start", context_json='{"n": 1}'))
    assert floor.get_session(key) == make_data(CTX, node="start", context_json='{"n": 1}')
    floor.update_session(key, make_data(CTX, node="next"))
    assert floor.get_session(key) == make_data(CTX, node="next")
    other_user = make_data(make_ctx(team="support", user="bob"))
    assert code_of(lambda: floor.update_session(key, other_user)) is ErrorCode.INVALID_INPUT
    assert code_of(lambda: floor.create_session(make_ctx(), make_data(CTX))) is (
        ErrorCode.INVALID_INPUT
    )
    floor.remove_session(key)
    assert floor.get_session(key) is None
    assert code_of(lambda: floor.update_session(key, make_data(CTX))) is ErrorCode.NOT_FOUND
    assert code_of(lambda: floor.remove_session("never-created")) is ErrorCode.NOT_FOUND


def test_register_find_list_clear(floor: SessionStore) -> None:
    floor.register_wait(CTX, USER, SCOPE_B, "k-b", make_data(CTX, node="b"))
    floor.register_wait(CTX, USER, SCOPE_A, "k-a", make_data(CTX, node="a"), ttl=TTL)
    assert floor.find_wait_by_scope(CTX, USER, SCOPE_A) == "k-a"
    assert floor.list_waits_for_user(CTX, USER) == ["k-b", "k-a"]
    assert floor.find_wait_by_scope(make_ctx(team="sales", user=USER), USER, SCOPE_A) is None
    floor.register_wait(CTX, USER, SCOPE_B, "k-a", make_data(CTX, node="a2"))  # moves k-a
    assert floor.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert floor.list_waits_for_user(CTX, USER) == ["k-a"]  # k-b was superseded
    assert floor.get_session("k-b") == make_data(CTX, node="b")  # ... and stays readable
    floor.clear_wait(CTX, USER, SCOPE_B)
    assert floor.get_session("k-a") is None
    assert floor.list_waits_for_user(CTX, USER) == []
    floor.clear_wait(CTX, USER, SCOPE_B)  # no wait: no error


def test_remove_drops_only_own_index_entries(floor: SessionStore) -> None:
    floor.register_wait(CTX, USER, SCOPE_A, "old", make_data(CTX))
    floor.register_wait(CTX, USER, SCOPE_A, "new", make_data(CTX))
    floor.remove_session("old")
    assert floor.find_wait_by_scope(CTX, USER, SCOPE_A) == "new"
    floor.remove_session("new")
    assert floor.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    floor.register_wait(CTX, USER, SCOPE_A, "new", make_data(CTX, node="second life"))
    assert floor.get_session("new") == make_data(CTX, node="second life")


def test_ttl_expiry(floor: SessionStore, fake_clock: FakeClock) -> None:
    floor.register_wait(CTX, USER, SCOPE_A, "k", make_data(CTX), ttl=TTL)
    floor.update_session("k", make_data(CTX, node="updated"))  # keeps the deadline
    fake_clock.advance(TTL + timedelta(seconds=1))
    assert floor.get_session("k") is None
    assert floor.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert floor.list_waits_for_user(CTX, USER) == []
    assert code_of(lambda: floor.update_session("k", make_data(CTX))) is ErrorCode.NOT_FOUND
    floor.register_wait(CTX, USER, SCOPE_B, "z", make_data(CTX), ttl=timedelta(0))
    assert floor.find_wait_by_scope(CTX, USER, SCOPE_B) is None


def test_wait_user_rules(floor: SessionStore) -> None:
    no_user = make_ctx(team="support")
    wrong_user = partial(floor.register_wait, CTX, "bob", SCOPE_A, "k", make_data(CTX))
    assert code_of(wrong_user) is ErrorCode.INVALID_INPUT
    no_data_user = partial(floor.register_wait, no_user, USER, SCOPE_A, "k", make_data(no_user))
    assert code_of(no_data_user) is ErrorCode.INVALID_INPUT


def test_closed_floor_is_unavailable(floor: SessionStore) -> None:
    floor.close()
    assert code_of(lambda: floor.get_session("k")) is ErrorCode.UNAVAILABLE
