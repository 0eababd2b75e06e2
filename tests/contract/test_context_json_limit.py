"""`context_json` is bounded: 16 MiB of UTF-8 by default, configurable by argument or
environment; over the limit is `invalid_input` and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from greentic_session import ErrorCode, EventSourcedSessionStore, SessionError, open_store
from greentic_session.adapters.bootstrap.urls import MAX_CONTEXT_VARIABLE
from greentic_session.domain.rules import DEFAULT_MAX_CONTEXT_BYTES
from tests.hostile import CTX
from tests.strategies import WRONG_TYPES, hostile_text, storable
from tests.support import FakeClock, make_data, make_scope, raises_code


def event_count(store: EventSourcedSessionStore) -> int:
    return sum(1 for _ in store.events())


LIMIT = 1000


def sized(size: int, unit: str = "x") -> str:
    """Text of exactly `size` UTF-8 bytes: `unit`s, topped up with ASCII."""
    width = len(unit.encode("utf-8"))
    return unit * (size // width) + "x" * (size % width)


@pytest.fixture
def limited(store_url: str) -> Iterator[EventSourcedSessionStore]:
    with open_store(store_url, clock=FakeClock(), max_context_bytes=LIMIT) as opened:
        yield opened


@pytest.mark.parametrize("unit", ["x", "é", "€", "😀", "\x00"])
def test_context_json_of_exactly_the_limit_is_accepted(
    limited: EventSourcedSessionStore, unit: str
) -> None:
    data = make_data(CTX, context_json=sized(LIMIT, unit))
    key = limited.create_session(CTX, data)
    limited.update_session(key, data)
    limited.register_wait(CTX, "alice", make_scope("chat"), key, data)
    assert limited.get_session(key) == data


@pytest.mark.parametrize("unit", ["x", "é", "€", "😀"])
def test_context_json_one_byte_over_the_limit_is_invalid_input_and_writes_nothing(
    limited: EventSourcedSessionStore, unit: str
) -> None:
    small = make_data(CTX)
    key = limited.create_session(CTX, small)
    events, history = event_count(limited), limited.history(key)
    over = make_data(CTX, context_json=sized(LIMIT + 1, unit))
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.create_session(CTX, over)
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.update_session(key, over)
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.register_wait(CTX, "alice", make_scope("chat"), key, over)
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.register_wait(CTX, "alice", make_scope("chat"), "new-key", over)
    assert event_count(limited) == events
    assert limited.history(key) == history
    assert limited.get_session(key) == small
    assert limited.history("new-key") == []
    assert limited.find_wait_by_scope(CTX, "alice", make_scope("chat")) is None


def test_context_json_limit_counts_utf8_bytes_not_characters(
    limited: EventSourcedSessionStore,
) -> None:
    fits = "😀" * (LIMIT // 4)  # 250 characters, 1000 bytes
    assert limited.get_session(limited.create_session(CTX, make_data(CTX, context_json=fits)))
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.create_session(CTX, make_data(CTX, context_json=fits + "x"))  # 251 characters
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.create_session(CTX, make_data(CTX, context_json="é" * (LIMIT // 2 + 1)))


def test_default_context_json_limit_is_16_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_CONTEXT_VARIABLE, raising=False)
    assert DEFAULT_MAX_CONTEXT_BYTES == 16 * 1024 * 1024
    with open_store("memory://", clock=FakeClock()) as store:
        at_limit = make_data(CTX, context_json=sized(16 * 1024 * 1024, "é"))
        key = store.create_session(CTX, at_limit)
        assert store.get_session(key) == at_limit
        with raises_code(ErrorCode.INVALID_INPUT):
            store.update_session(key, make_data(CTX, context_json=sized(16 * 1024 * 1024 + 1)))
        assert [event.version for event in store.history(key)] == [1]


def test_context_json_limit_comes_from_the_environment_unless_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(MAX_CONTEXT_VARIABLE, "100")
    with open_store("memory://", clock=FakeClock()) as store:
        store.create_session(CTX, make_data(CTX, context_json=sized(100)))
        with raises_code(ErrorCode.INVALID_INPUT):
            store.create_session(CTX, make_data(CTX, context_json=sized(101)))
    with open_store("memory://", clock=FakeClock(), max_context_bytes=200) as store:
        store.create_session(CTX, make_data(CTX, context_json=sized(200)))
        with raises_code(ErrorCode.INVALID_INPUT):
            store.create_session(CTX, make_data(CTX, context_json=sized(201)))


@pytest.mark.parametrize(
    "limit", [0, -1, True, False, 1.5, "1000", b"1000", [1000], None.__class__, -(2**70)]
)
def test_bad_max_context_bytes_is_invalid_input(limit: Any) -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        open_store("memory://", max_context_bytes=limit)


@pytest.mark.parametrize("text", ["abc", "0", "-5", "1.5", " ", "1e6", "16MiB", "0x10"])
def test_bad_max_context_bytes_variable_is_invalid_input(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(MAX_CONTEXT_VARIABLE, text)
    with raises_code(ErrorCode.INVALID_INPUT):
        open_store("memory://")


@settings(max_examples=100, deadline=None)
@given(limit=st.one_of(st.integers(), WRONG_TYPES))
def test_hostile_max_context_bytes_opens_a_store_or_is_invalid_input(limit: Any) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(MAX_CONTEXT_VARIABLE, raising=False)
        try:
            open_store("memory://", max_context_bytes=limit).close()
        except SessionError as error:
            assert error.code is ErrorCode.INVALID_INPUT
            opened = False
        else:
            opened = True
    assert opened == (limit is None or (type(limit) is int and limit > 0))  # None: default


def whole_number(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


@settings(max_examples=100, deadline=None)
@given(text=st.one_of(hostile_text(huge=False), st.integers().map(str)))
def test_hostile_max_context_bytes_variable_opens_a_store_or_is_invalid_input(text: str) -> None:
    assume("\x00" not in text and storable(text))  # what an environment can hold
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MAX_CONTEXT_VARIABLE, text)
        try:
            open_store("memory://").close()
        except SessionError as error:
            assert error.code is ErrorCode.INVALID_INPUT
            opened = False
        else:
            opened = True
    number = whole_number(text)
    assert opened == (text == "" or (number is not None and number > 0))


def test_the_default_limit_refuses_one_byte_over_16_mib_on_every_backend_and_writes_nothing(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MAX_CONTEXT_VARIABLE, raising=False)
    with open_store(store_url, clock=FakeClock()) as store:
        key = store.create_session(CTX, make_data(CTX))
        events = event_count(store)
        over = make_data(CTX, context_json=sized(DEFAULT_MAX_CONTEXT_BYTES + 1, "é"))
        with raises_code(ErrorCode.INVALID_INPUT):
            store.create_session(CTX, over)
        with raises_code(ErrorCode.INVALID_INPUT):
            store.update_session(key, over)
        with raises_code(ErrorCode.INVALID_INPUT):
            store.register_wait(CTX, "alice", make_scope("chat"), "new-key", over)
        assert event_count(store) == events
        assert store.get_session(key) == make_data(CTX)
        assert store.history("new-key") == []
