"""create_session, get_session, update_session and remove_session, on every backend."""

from __future__ import annotations

import uuid
from datetime import timedelta

from greentic_session import SessionKey, SessionStore
from tests.contract.helpers import CTX, USER, data_for, find_by_user
from tests.support import FakeClock, make_ctx


def test_create_get_update_remove_flow_session(store: SessionStore) -> None:
    """The Rust crate's round trip."""
    data = data_for(node="node.enter", context_json='{"step":1}')
    key = store.create_session(CTX, data)
    assert store.get_session(key) == data

    updated = data_for(node="node.wait", context_json='{"step":2}')
    store.update_session(key, updated)
    after = store.get_session(key)
    assert after is not None
    assert after.cursor.node_pointer == "node.wait"

    store.remove_session(key)
    assert store.get_session(key) is None


def test_create_session_returns_a_uuid4_text_key(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    assert isinstance(key, SessionKey)
    parsed = uuid.UUID(key)
    assert parsed.version == 4
    assert str(parsed) == key


def test_create_session_returns_a_new_key_each_time(store: SessionStore) -> None:
    keys = {store.create_session(CTX, data_for()) for _ in range(5)}
    assert len(keys) == 5


def test_get_session_returns_the_created_data(store: SessionStore) -> None:
    data = data_for(node="node.start", context_json='{"a":1}')
    key = store.create_session(CTX, data)
    assert store.get_session(key) == data


def test_get_session_accepts_a_plain_str_key(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    assert store.get_session(str(key)) == data_for()


def test_get_session_of_an_unknown_key_is_none(store: SessionStore) -> None:
    assert store.get_session("no-such-session") is None


def test_update_session_replaces_the_data(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for(node="one"))
    store.update_session(key, data_for(node="two", context_json='{"v":2}'))
    assert store.get_session(key) == data_for(node="two", context_json='{"v":2}')


def test_remove_session_makes_the_session_unreadable(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    store.remove_session(key)
    assert store.get_session(key) is None


def test_remove_session_leaves_other_sessions(store: SessionStore) -> None:
    first = store.create_session(CTX, data_for(node="first"))
    second = store.create_session(CTX, data_for(node="second"))
    store.remove_session(first)
    assert store.get_session(second) == data_for(node="second")


def test_created_session_never_expires(store: SessionStore, fake_clock: FakeClock) -> None:
    key = store.create_session(CTX, data_for())
    fake_clock.advance(timedelta(days=3650))
    assert store.get_session(key) == data_for()


def test_created_session_is_not_a_wait(store: SessionStore) -> None:
    store.create_session(CTX, data_for())
    assert store.list_waits_for_user(CTX, USER) == []
    assert find_by_user(store, CTX, USER) is None


def test_create_session_without_user_in_data(store: SessionStore) -> None:
    """Alignment asks for a caller user only when the data names one."""
    data = data_for(make_ctx())
    key = store.create_session(CTX, data)
    assert store.get_session(key) == data
