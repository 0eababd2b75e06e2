"""Atomicity: an operation that fails has written nothing."""

from __future__ import annotations

from typing import Any

from greentic_session import SessionStore
from tests.contract.helpers import (
    CTX,
    SCOPE_A,
    SCOPE_B,
    SCOPE_C,
    USER,
    data_for,
    raises_invalid,
    wait,
)
from tests.support import make_ctx


def test_failing_register_wait_leaves_the_indices_unchanged(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A, data=data_for(node="kept"))
    wait(store, "other", SCOPE_B)
    changed = make_ctx(team="red", user=USER)
    with raises_invalid():
        wait(store, "k", SCOPE_C, ctx=changed, data=data_for(changed))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_C) is None
    assert store.find_wait_by_scope(changed, USER, SCOPE_C) is None
    assert store.list_waits_for_user(CTX, USER) == ["k", "other"]
    assert store.get_session("k") == data_for(node="kept")


def test_failing_register_wait_does_not_take_over_the_scope(store: SessionStore) -> None:
    wait(store, "owner", SCOPE_A)
    with raises_invalid():
        wait(store, "intruder", SCOPE_A, data=data_for(make_ctx()))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "owner"
    assert store.list_waits_for_user(CTX, USER) == ["owner"]
    assert store.get_session("intruder") is None


def test_register_wait_with_bad_ttl_leaves_the_existing_wait(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A, data=data_for(node="kept"))
    with raises_invalid():
        bad_ttl: Any = 30
        store.register_wait(CTX, USER, SCOPE_B, "k", data_for(node="new"), bad_ttl)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) is None
    assert store.get_session("k") == data_for(node="kept")


def test_failing_register_wait_does_not_revive_an_ended_key(store: SessionStore) -> None:
    wait(store, "k")
    store.remove_session("k")
    with raises_invalid():
        store.register_wait(CTX, "bob", SCOPE_A, "k", data_for())
    assert store.get_session("k") is None
    assert store.list_waits_for_user(CTX, USER) == []


def test_failing_update_keeps_the_wait_and_order(store: SessionStore) -> None:
    wait(store, "a", SCOPE_A, data=data_for(node="kept"))
    wait(store, "b", SCOPE_B)
    with raises_invalid():
        store.update_session("a", data_for(make_ctx(user="bob")))
    assert store.list_waits_for_user(CTX, USER) == ["a", "b"]
    assert store.get_session("a") == data_for(node="kept")
