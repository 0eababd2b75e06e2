"""`keys_with_prefix`: the keys that begin with a prefix, from the heads' key index, the
way tools resolve a short key."""

from __future__ import annotations

import hashlib

import pytest

from greentic_session import AuditedSessionStore, ErrorCode, EventSourcedSessionStore
from tests.contract.audit_helpers import CTX, data
from tests.support import make_scope, raises_code

KEYS = ["abc%_x-1", "abc%_x-2", "abc%_y", "abcdefgh", "abd", "zz\U0010ffff", "é-1"]


@pytest.fixture
def keyed(store: AuditedSessionStore) -> EventSourcedSessionStore:
    assert isinstance(store, EventSourcedSessionStore)
    for n, key in enumerate(KEYS):  # a session of its own key each, on a scope of its own
        store.register_wait(CTX, "alice", make_scope(f"chat-{n}"), key, data("n"))
    return store


def test_keys_with_prefix_are_the_keys_beginning_with_it_in_code_point_order(
    keyed: EventSourcedSessionStore,
) -> None:
    assert keyed.keys_with_prefix("abc%_x") == ["abc%_x-1", "abc%_x-2"]
    assert keyed.keys_with_prefix("abc") == ["abc%_x-1", "abc%_x-2", "abc%_y", "abcdefgh"]
    assert keyed.keys_with_prefix("") == sorted(KEYS)


def test_keys_with_prefix_reads_like_and_range_characters_literally(
    keyed: EventSourcedSessionStore,
) -> None:
    assert keyed.keys_with_prefix("abc_") == []
    assert keyed.keys_with_prefix("abc%_") == ["abc%_x-1", "abc%_x-2", "abc%_y"]
    assert keyed.keys_with_prefix("zz\U0010ffff") == ["zz\U0010ffff"]
    assert keyed.keys_with_prefix("é") == ["é-1"]


def test_keys_with_prefix_stops_at_the_limit(keyed: EventSourcedSessionStore) -> None:
    assert keyed.keys_with_prefix("abc", limit=2) == ["abc%_x-1", "abc%_x-2"]


def test_keys_with_prefix_includes_ended_sessions(keyed: EventSourcedSessionStore) -> None:
    keyed.remove_session("abd")
    assert keyed.keys_with_prefix("abd") == ["abd"]


@pytest.mark.parametrize("prefix", ["a\x00", "\ud800"])
def test_keys_with_prefix_refuses_what_no_key_can_hold(
    keyed: EventSourcedSessionStore, prefix: str
) -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        keyed.keys_with_prefix(prefix)


def test_keys_with_prefix_refuses_a_limit_below_one(keyed: EventSourcedSessionStore) -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        keyed.keys_with_prefix("a", limit=0)


def test_keys_with_prefix_tells_long_keys_apart_past_their_indexed_head(
    store: AuditedSessionStore,
) -> None:
    assert isinstance(store, EventSourcedSessionStore)
    head = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(64))  # 4,096
    for n, key in enumerate([head + "-a1", head + "-a2", head + "-b"]):
        store.register_wait(CTX, "alice", make_scope(f"long-{n}"), key, data("n"))
    assert store.keys_with_prefix(head + "-a") == [head + "-a1", head + "-a2"]
    assert store.keys_with_prefix(head[:100]) == [head + "-a1", head + "-a2", head + "-b"]
