"""`get_session_at`: the session as it was after a version or at an instant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from greentic_session import AuditedSessionStore
from tests.contract.audit_helpers import (
    CTX,
    SCOPE,
    STEP,
    TTL,
    USER,
    data,
    later,
    raises_invalid,
    wait,
)
from tests.support import FakeClock


def test_get_session_at_version_is_the_session_after_that_version(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data("n1", '{"step": 1}'))
    store.update_session(key, data("n2", '{"step": 2}'))
    wait(store, key, "n3")

    assert store.get_session_at(key, version=1) == data("n1", '{"step": 1}')
    assert store.get_session_at(key, version=2) == data("n2", '{"step": 2}')
    assert store.get_session_at(key, version=3) == data("n3")


def test_get_session_at_a_version_where_the_life_had_ended_is_none(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    store.clear_wait(CTX, USER, SCOPE)  # v3
    wait(store, key, "n4")  # v4 created again, v5 waiting

    assert store.get_session_at(key, version=3) is None
    assert store.get_session_at(key, version=4) == data("n4")


def test_get_session_at_an_instant_is_the_session_live_then(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    created = fake_clock.now
    key = store.create_session(CTX, data("n1"))
    updated = later(fake_clock)
    store.update_session(key, data("n2"))
    later(fake_clock)

    assert store.get_session_at(key, at=created) == data("n1")
    assert store.get_session_at(key, at=created + STEP / 2) == data("n1")
    assert store.get_session_at(key, at=updated) == data("n2")


def test_get_session_at_an_instant_before_creation_is_none(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))

    assert store.get_session_at(key, at=fake_clock.now - timedelta(microseconds=1)) is None


def test_get_session_at_an_instant_past_the_deadline_is_none(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    """The expiry is not in the log yet (no write met it): the deadline alone decides."""
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", ttl=TTL)
    deadline = fake_clock.now + TTL
    later(fake_clock, 2 * TTL)

    assert store.get_session_at(key, at=deadline - timedelta(microseconds=1)) == data("n2")
    assert store.get_session_at(key, at=deadline) is None


def test_get_session_at_an_instant_after_removal_is_none(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    removed = later(fake_clock)
    store.remove_session(key)

    assert store.get_session_at(key, at=removed - timedelta(microseconds=1)) == data("n1")
    assert store.get_session_at(key, at=removed) is None


def test_get_session_at_an_instant_between_two_lives_is_none(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    cleared = later(fake_clock)
    store.clear_wait(CTX, USER, SCOPE)
    again = later(fake_clock)
    wait(store, key, "n3")

    assert store.get_session_at(key, at=cleared) is None
    assert store.get_session_at(key, at=again) == data("n3")


def test_get_session_at_defaults_to_now(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1"))
    store.update_session(key, data("n2"))

    assert store.get_session_at(key) == store.get_session(key) == data("n2")


def test_get_session_at_with_both_version_and_instant_is_invalid_input(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))

    with raises_invalid():
        store.get_session_at(key, version=1, at=fake_clock.now)


def test_get_session_at_a_naive_datetime_is_invalid_input(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))

    with raises_invalid():
        store.get_session_at(key, at=fake_clock.now.replace(tzinfo=None))


@pytest.mark.parametrize("version", [0, -1, 3])
def test_get_session_at_a_version_out_of_range_is_invalid_input(
    store: AuditedSessionStore, version: int
) -> None:
    key = store.create_session(CTX, data("n1"))
    store.update_session(key, data("n2"))

    with raises_invalid():
        store.get_session_at(key, version=version)


def test_get_session_at_a_version_of_a_key_without_history_is_invalid_input(
    store: AuditedSessionStore,
) -> None:
    with raises_invalid():
        store.get_session_at("never-created", version=1)


@pytest.mark.parametrize("version", ["1", True, 1.0])
def test_get_session_at_a_version_that_is_not_an_int_is_invalid_input(
    store: AuditedSessionStore, version: Any
) -> None:
    key = store.create_session(CTX, data("n1"))

    with raises_invalid():
        store.get_session_at(key, version=version)


def test_get_session_at_an_instant_that_is_not_a_datetime_is_invalid_input(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data("n1"))
    instant: Any = "2030-01-01T12:00:00+00:00"

    with raises_invalid():
        store.get_session_at(key, at=instant)
