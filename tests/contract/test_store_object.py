"""The store object: opened by `open_store`, a context manager, private per memory URL,
refusing calls once closed."""

from __future__ import annotations

import pytest

from greentic_session import ErrorCode, SessionError, SessionStore
from tests.conftest import open_store
from tests.contract.helpers import CTX, SCOPE_A, USER, data_for, wait


def test_a_store_is_a_context_manager(store_url: str) -> None:
    with open_store(store_url) as opened:
        key = opened.create_session(CTX, data_for())
        assert opened.get_session(key) == data_for()


def test_open_store_returns_a_session_store(store: SessionStore) -> None:
    assert isinstance(store, SessionStore)


def test_each_memory_store_is_private() -> None:
    with open_store("memory://") as first, open_store("memory://") as second:
        wait(first, "k")
        assert second.get_session("k") is None
        assert second.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_a_closed_store_refuses_calls_as_unavailable(store: SessionStore) -> None:
    store.close()
    with pytest.raises(SessionError) as caught:
        store.get_session("any-key")
    assert caught.value.code is ErrorCode.UNAVAILABLE
