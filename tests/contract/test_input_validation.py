"""Arguments of every operation are checked: empty keys, bad user ids, TTLs and values of
the wrong type are `invalid_input`."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from greentic_session import ErrorCode, EventSourcedSessionStore, SessionKey, SessionStore, UserId
from tests.contract.helpers import (
    CTX,
    SCOPE_A,
    SCOPE_B,
    TTL,
    USER,
    data_for,
    raises_invalid,
    wait,
)
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


# -- deliberate strictness (the contract's list): invalid_input, and nothing written ------

def event_count(store: EventSourcedSessionStore) -> int:
    return sum(1 for _ in store.events())


def writes_with_key(key: str) -> dict[str, Callable[[EventSourcedSessionStore], object]]:
    """Every operation that takes a session key, given `key`."""
    return {
        "get_session": lambda s: s.get_session(key),
        "update_session": lambda s: s.update_session(key, data_for()),
        "remove_session": lambda s: s.remove_session(key),
        "register_wait": lambda s: s.register_wait(CTX, USER, SCOPE_B, key, data_for()),
        "register_wait_if_absent": lambda s: s.register_wait(
            CTX, USER, SCOPE_B, key, data_for(), if_absent=True
        ),
        "history": lambda s: s.history(key),
    }


UNSTORABLE_KEYS = {"nul": "k\x00ey", "only-nul": "\x00", "lone-surrogate": "k\ud800"}
KEY_CASES = [
    (kind, operation) for kind in UNSTORABLE_KEYS for operation in writes_with_key("k")
]


@pytest.mark.parametrize(("kind", "operation"), KEY_CASES, ids=[f"{k}-{o}" for k, o in KEY_CASES])
def test_an_unstorable_session_key_is_invalid_input_and_writes_nothing(
    store: EventSourcedSessionStore, kind: str, operation: str
) -> None:
    """NUL (PostgreSQL text cannot hold it) and lone surrogates (no backend stores them as
    text) are refused in a key by every operation, on every backend."""
    wait(store, "kept", SCOPE_A)
    before = event_count(store)
    with raises_invalid():
        writes_with_key(UNSTORABLE_KEYS[kind])[operation](store)
    assert event_count(store) == before
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) is None
    assert store.list_waits_for_user(CTX, USER) == ["kept"]


def test_a_nul_in_a_key_is_refused_before_the_store_sees_it(store: SessionStore) -> None:
    with raises_invalid("SessionKey must not contain the NUL character"):
        store.get_session("k\x00")


@pytest.mark.parametrize(
    "text",
    ["\ud800", "a\udfffb"],
    ids=["high", "low-inside"],
)
def test_a_lone_surrogate_in_a_user_id_is_invalid_input_and_writes_nothing(
    store: EventSourcedSessionStore, text: str
) -> None:
    """Models refuse lone surrogates when built (tests/unit/test_model_errors.py); a user
    id is the other text an operation takes besides the key."""
    wait(store, "kept", SCOPE_A)
    before = event_count(store)
    with raises_invalid():
        store.register_wait(CTX, text, SCOPE_B, "k", data_for())
    with raises_invalid():
        store.find_wait_by_scope(CTX, text, SCOPE_A)
    with raises_invalid():
        store.list_waits_for_user(CTX, text)
    with raises_invalid():
        store.clear_wait(CTX, text, SCOPE_A)
    assert event_count(store) == before
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "kept"


PAST_9999 = timedelta(days=9000 * 366)
"""From the test clock's 2030, a deadline past the year 9999 (Python's datetime range)."""
PAST_9999_MESSAGE = f"ttl {PAST_9999} is too large: the deadline is past year 9999"


def test_a_ttl_whose_deadline_is_past_year_9999_is_invalid_input_and_creates_nothing(
    store: EventSourcedSessionStore,
) -> None:
    before = event_count(store)
    with raises_invalid(PAST_9999_MESSAGE):
        wait(store, "k", ttl=PAST_9999)
    assert event_count(store) == before
    assert store.get_session("k") is None
    assert store.history("k") == []
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_a_ttl_past_year_9999_leaves_a_live_session_and_its_wait_as_they_were(
    store: EventSourcedSessionStore,
) -> None:
    wait(store, "k", ttl=TTL)
    history = store.history("k")
    with raises_invalid(PAST_9999_MESSAGE):
        wait(store, "k", SCOPE_B, ttl=PAST_9999)
    assert store.history("k") == history
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) is None


@pytest.mark.parametrize("ttl", [timedelta.max, timedelta(days=3_000_000)], ids=["max", "huge"])
def test_the_largest_ttls_are_invalid_input(store: SessionStore, ttl: timedelta) -> None:
    with raises_invalid():
        wait(store, "k", ttl=ttl)
    assert store.get_session("k") is None
