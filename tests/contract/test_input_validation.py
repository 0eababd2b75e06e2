"""Arguments of every operation are checked: empty keys, bad user ids, TTLs and values of
the wrong type are `invalid_input`."""

from __future__ import annotations

import io
import warnings
from typing import Any

import pytest

from greentic_session import ErrorCode, EventSourcedSessionStore, SessionKey, SessionStore, UserId
from tests.contract.helpers import CTX, SCOPE_A, USER, data_for, raises_invalid, wait
from tests.hostile import consistent
from tests.support import make_ctx, make_data, raises_code


def test_get_session_with_empty_key_is_invalid_input(store: SessionStore) -> None:
    with raises_invalid():
        store.get_session("")


def test_update_session_with_empty_key_is_invalid_input(store: SessionStore) -> None:
    with raises_invalid():
        store.update_session("", data_for())


def test_remove_session_with_empty_key_is_invalid_input(store: SessionStore) -> None:
    with raises_invalid():
        store.remove_session("")


def test_register_wait_with_empty_key_is_invalid_input(store: SessionStore) -> None:
    with raises_invalid():
        wait(store, "")
    assert store.list_waits_for_user(CTX, USER) == []


BAD_USERS = [
    ("", "UserId must not be empty"),
    ("bad user", "UserId must contain only ASCII letters, digits, '.', '-', or '_'"),
    ("a/b", "UserId must contain only ASCII letters, digits, '.', '-', or '_'"),
]


@pytest.mark.parametrize(("user", "message"), BAD_USERS)
def test_register_wait_with_invalid_user_str_is_invalid_input(
    store: SessionStore, user: str, message: str
) -> None:
    with raises_invalid(message):
        store.register_wait(CTX, user, SCOPE_A, "k", data_for())
    assert store.get_session("k") is None


@pytest.mark.parametrize(("user", "message"), BAD_USERS)
def test_find_wait_by_scope_with_invalid_user_str_is_invalid_input(
    store: SessionStore, user: str, message: str
) -> None:
    with raises_invalid(message):
        store.find_wait_by_scope(CTX, user, SCOPE_A)


@pytest.mark.parametrize(("user", "message"), BAD_USERS)
def test_list_waits_with_invalid_user_str_is_invalid_input(
    store: SessionStore, user: str, message: str
) -> None:
    with raises_invalid(message):
        store.list_waits_for_user(CTX, user)


@pytest.mark.parametrize(("user", "message"), BAD_USERS)
def test_clear_wait_with_invalid_user_str_is_invalid_input(
    store: SessionStore, user: str, message: str
) -> None:
    with raises_invalid(message):
        store.clear_wait(CTX, user, SCOPE_A)


@pytest.mark.parametrize(("user", "message"), BAD_USERS)
def test_find_by_user_with_invalid_user_str_is_invalid_input(
    store: SessionStore, user: str, message: str
) -> None:
    with raises_invalid(message), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        store.find_by_user(CTX, user)


@pytest.mark.parametrize("ttl", [60, 1.5, "PT1M", 0], ids=["int", "float", "str", "zero-int"])
def test_ttl_that_is_not_a_timedelta_is_invalid_input(store: SessionStore, ttl: object) -> None:
    with raises_invalid():
        store.register_wait(CTX, USER, SCOPE_A, "k", data_for(), ttl)  # type: ignore[arg-type]
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_identifier_and_key_instances_are_accepted(store: SessionStore) -> None:
    wait(store, SessionKey("typed"), user=UserId(USER))
    assert store.find_wait_by_scope(CTX, UserId(USER), SCOPE_A) == "typed"
    assert store.list_waits_for_user(CTX, UserId(USER)) == ["typed"]
    store.update_session(SessionKey("typed"), data_for(node="typed"))
    assert store.get_session(SessionKey("typed")) == data_for(node="typed")


WRONG_TYPES = {
    "ctx-as-dict": lambda s: s.create_session(CTX.model_dump(), data_for()),
    "data-as-dict": lambda s: s.create_session(CTX, data_for().model_dump()),
    "data-as-json": lambda s: s.update_session("k", data_for().model_dump_json()),
    "scope-as-str": lambda s: s.register_wait(CTX, USER, "chat-a", "k", data_for()),
    "key-as-int": lambda s: s.get_session(42),
    "lookup-scope-as-dict": lambda s: s.find_wait_by_scope(CTX, USER, {"conversation": "c"}),
}


@pytest.mark.parametrize("call", list(WRONG_TYPES), ids=str)
def test_arguments_of_the_wrong_type_are_invalid_input(store: SessionStore, call: str) -> None:
    """Every failure a caller sees is a SessionError, wrong argument types included."""
    with raises_invalid():
        WRONG_TYPES[call](store)


# -- wrong types the store checks ----------------------------------------------------------


def test_export_events_to_something_that_is_not_a_file_is_invalid_input(
    store: EventSourcedSessionStore,
) -> None:
    store.create_session(make_ctx(), make_data(make_ctx()))
    with raises_code(ErrorCode.INVALID_INPUT):
        store.export_events(None)  # type: ignore[arg-type]


def test_import_events_from_something_that_is_not_a_file_is_invalid_input(
    store: EventSourcedSessionStore,
) -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        store.import_events(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [[1], True, 1.0], ids=["list", "bool", "float"])
def test_diff_with_versions_that_are_not_ints_is_invalid_input(
    store: EventSourcedSessionStore, version: Any
) -> None:
    ctx = make_ctx()
    key = store.create_session(ctx, make_data(ctx))
    with raises_code(ErrorCode.INVALID_INPUT):
        store.diff(key, version, 1)


def test_an_empty_import_into_an_empty_store_loads_nothing(
    store: EventSourcedSessionStore,
) -> None:
    assert store.import_events(io.StringIO("")) == 0
    consistent(store)
