"""Waits: registered under a key, routed by reply scope, re-registered, and listed per
user in registration order."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from greentic_session import ErrorCode, ReplyScope, SessionError, SessionKey, SessionStore
from tests.contract.helpers import (
    CTX,
    SCOPE_A,
    SCOPE_B,
    SCOPE_C,
    USER,
    data_for,
    find_by_user,
    wait,
)
from tests.support import FakeClock, make_ctx, make_scope

# -- waits ---------------------------------------------------------------------------------


def test_multiple_waits_are_indexed_and_routed_by_scope(store: SessionStore) -> None:
    """The Rust crate's case: two waits of one user, each found by its own scope."""
    wait(store, "wait-a", SCOPE_A, data=data_for(node="node.wait.a", context_json='{"step":10}'))
    wait(store, "wait-b", SCOPE_B, data=data_for(node="node.wait.b", context_json='{"step":11}'))
    assert sorted(store.list_waits_for_user(CTX, USER)) == ["wait-a", "wait-b"]
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "wait-a"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == "wait-b"


def test_scopes_differing_only_in_thread_are_distinct(store: SessionStore) -> None:
    wait(store, "plain", SCOPE_A)
    wait(store, "threaded", SCOPE_C)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "plain"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_C) == "threaded"


def test_register_wait_stores_the_data_under_the_given_key(store: SessionStore) -> None:
    data = data_for(node="node.ask", context_json='{"q":"name?"}')
    wait(store, "conv-1", data=data)
    assert store.get_session("conv-1") == data


def test_register_wait_on_a_created_session_keeps_its_key(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for(node="start"))
    wait(store, key, data=data_for(node="asked"))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == key
    assert store.get_session(key) == data_for(node="asked")


def test_find_wait_by_scope_returns_a_session_key(store: SessionStore) -> None:
    wait(store, "k")
    found = store.find_wait_by_scope(CTX, USER, SCOPE_A)
    assert isinstance(found, SessionKey)
    listed = store.list_waits_for_user(CTX, USER)
    assert all(isinstance(key, SessionKey) for key in listed)


def test_find_wait_by_unknown_scope_is_none(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) is None


def test_lookups_need_no_user_in_the_caller_context(store: SessionStore) -> None:
    wait(store, "k")
    ctx_without_user = make_ctx()
    assert store.find_wait_by_scope(ctx_without_user, USER, SCOPE_A) == "k"
    assert store.list_waits_for_user(ctx_without_user, USER) == ["k"]


def test_wait_with_special_characters_in_key_and_scope(store: SessionStore) -> None:
    key = "tenant:prov/ider:ánchor 😀:'; DROP TABLE sessions; --%_\\"
    scope = ReplyScope(conversation="çhat\n'\"\\ 😀", thread="%", reply_to="_", correlation="'")
    wait(store, key, scope)
    assert store.find_wait_by_scope(CTX, USER, scope) == key
    assert store.list_waits_for_user(CTX, USER) == [key]
    assert store.get_session(key) == data_for(node=f"node.{key}")
    store.remove_session(key)
    assert store.find_wait_by_scope(CTX, USER, scope) is None


def test_keys_differing_in_case_space_or_normalization_are_distinct(
    store: SessionStore,
) -> None:
    keys = ["k", "K", "k ", " k", "caf\u00e9", "cafe\u0301"]
    for n, key in enumerate(keys):
        wait(store, key, make_scope(f"chat-{n}"))
    assert store.list_waits_for_user(CTX, USER) == keys
    for key in keys:
        assert store.get_session(key) == data_for(node=f"node.{key}")
    store.remove_session("k")
    assert [store.get_session(key) is None for key in keys] == [True] + [False] * 5


def test_a_long_session_key_works(store: SessionStore) -> None:
    """Keys are any non-empty text; an incompressible 4,096-character key still routes."""
    key = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(64))
    wait(store, key)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == key
    assert store.get_session(key) == data_for(node=f"node.{key}")
    store.update_session(key, data_for(node="updated"))
    store.remove_session(key)
    assert store.get_session(key) is None


def test_scope_text_with_nul_and_long_parts_routes(store: SessionStore) -> None:
    scope = ReplyScope(conversation="chat\x00one", thread="t" * 5000, correlation="ü\x00")
    wait(store, "k", scope)
    assert store.find_wait_by_scope(CTX, USER, scope) == "k"
    assert store.find_wait_by_scope(CTX, USER, make_scope("chat\x00one")) is None
    store.clear_wait(CTX, USER, scope)
    assert store.get_session("k") is None


def test_find_by_user_is_ambiguous_with_multiple_waits(store: SessionStore) -> None:
    """The Rust crate's case: the legacy lookup refuses to guess between waits."""
    wait(store, "ambiguous-a", make_scope("slack:thread-a"))
    wait(store, "ambiguous-b", make_scope("slack:thread-b"))
    with pytest.raises(SessionError) as error, pytest.warns(DeprecationWarning):
        store.find_by_user(CTX, USER)
    assert error.value.code is ErrorCode.INVALID_INPUT
    assert "multiple waits exist for user; use scope-based routing instead" in error.value.message


def test_find_by_user_returns_the_single_wait_with_its_data(store: SessionStore) -> None:
    data = data_for(node="only", context_json='{"only":true}')
    wait(store, "only", data=data)
    assert find_by_user(store, CTX, USER) == ("only", data)


def test_find_by_user_without_waits_is_none(store: SessionStore) -> None:
    assert find_by_user(store, CTX, USER) is None


def test_find_by_user_emits_a_deprecation_warning(store: SessionStore) -> None:
    wait(store, "k")
    with pytest.warns(DeprecationWarning):
        store.find_by_user(CTX, USER)


def test_find_by_user_counts_only_live_waits(store: SessionStore) -> None:
    wait(store, "gone", SCOPE_A)
    wait(store, "kept", SCOPE_B)
    store.remove_session("gone")
    found = find_by_user(store, CTX, USER)
    assert found is not None
    assert found[0] == "kept"


# -- re-registering ------------------------------------------------------------------------


def test_reregistering_on_a_new_scope_drops_the_old_scope_entry(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    wait(store, "k", SCOPE_B)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == "k"
    assert store.list_waits_for_user(CTX, USER) == ["k"]


def test_clearing_the_old_scope_after_moving_leaves_the_session(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    wait(store, "k", SCOPE_B)
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.get_session("k") is not None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == "k"


def test_reregistering_on_the_same_scope_lists_the_key_once(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    wait(store, "k", SCOPE_A)
    assert store.list_waits_for_user(CTX, USER) == ["k"]


def test_reregistering_replaces_the_data(store: SessionStore) -> None:
    wait(store, "k", data=data_for(node="one"))
    wait(store, "k", data=data_for(node="two"))
    assert store.get_session("k") == data_for(node="two")


# -- order ---------------------------------------------------------------------------------

SCOPES = [make_scope(f"chat-{n}") for n in range(5)]


def test_waits_are_listed_oldest_registration_first(store: SessionStore) -> None:
    keys = ["k-c", "k-a", "k-e", "k-b", "k-d"]
    for key, scope in zip(keys, SCOPES, strict=True):
        wait(store, key, scope)
    assert store.list_waits_for_user(CTX, USER) == keys


def test_reregistering_moves_a_key_to_the_end(store: SessionStore) -> None:
    for key, scope in zip(["a", "b", "c"], SCOPES[:3], strict=True):
        wait(store, key, scope)
    wait(store, "a", SCOPES[0])
    assert store.list_waits_for_user(CTX, USER) == ["b", "c", "a"]
    wait(store, "b", SCOPES[3])
    assert store.list_waits_for_user(CTX, USER) == ["c", "a", "b"]


def test_update_does_not_change_the_order(store: SessionStore) -> None:
    for key, scope in zip(["a", "b", "c"], SCOPES[:3], strict=True):
        wait(store, key, scope)
    store.update_session("a", data_for(node="touched"))
    assert store.list_waits_for_user(CTX, USER) == ["a", "b", "c"]


def test_order_follows_registration_across_clock_steps(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "late", SCOPES[0])
    fake_clock.advance(timedelta(minutes=1))
    wait(store, "later", SCOPES[1])
    fake_clock.advance(timedelta(minutes=1))
    wait(store, "late", SCOPES[0])
    assert store.list_waits_for_user(CTX, USER) == ["later", "late"]
