"""`read_session`: the live session with its stream version, expiry and wait, on every
backend; and the runtime's safe update: find, read the version, update at that version."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest

from greentic_session import AuditedSessionStore, ErrorCode, SessionError, StoredWait
from tests.contract.helpers import CTX, SCOPE_A, SCOPE_B, TTL, USER, data_for, raises_invalid, wait
from tests.support import FakeClock, run_together

OpenAnother = Callable[[], AuditedSessionStore]
ATTEMPTS = 200  # far more than four writers need: each conflict means another one applied


@pytest.fixture
def other_writer(
    backend: str, store: AuditedSessionStore, request: pytest.FixtureRequest
) -> AuditedSessionStore:
    """Another writer on the same database: a second instance, or the memory store itself."""
    if backend == "memory":
        return store
    open_another: OpenAnother = request.getfixturevalue("open_another")
    return open_another()


def test_read_session_has_the_data_and_the_version_history_reports_last(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data_for(node="first"))
    store.update_session(key, data_for(node="second"))

    read = store.read_session(key)

    assert read is not None
    assert read.session_key == key
    assert read.data == store.get_session(key) == data_for(node="second")
    assert read.version == store.history(key)[-1].version == 2
    assert (read.expires_at, read.wait) == (None, None)


def test_read_session_of_a_waiting_session_has_its_wait(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data_for(node="first"))
    wait(store, key, SCOPE_A, data=data_for(node="parked"), ttl=TTL)

    read = store.read_session(key)

    assert read is not None
    assert read.data == data_for(node="parked")
    assert read.version == 2
    assert read.expires_at == fake_clock.now + TTL
    assert read.wait == StoredWait(
        user_id=USER, scope=SCOPE_A, expires_at=fake_clock.now + TTL, registered_version=2
    )


def test_read_session_of_a_superseded_session_keeps_its_data_and_deadline_without_a_wait(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "first", SCOPE_A, ttl=TTL)
    deadline = fake_clock.now + TTL
    wait(store, "second", SCOPE_A)

    read = store.read_session("first")

    assert read is not None
    assert read.data == store.get_session("first")
    assert read.version == store.history("first")[-1].version == 3
    assert (read.expires_at, read.wait) == (deadline, None)


def test_a_wait_moved_to_another_scope_is_read_with_its_new_scope(
    store: AuditedSessionStore,
) -> None:
    wait(store, "k", SCOPE_A)
    wait(store, "k", SCOPE_B)

    read = store.read_session("k")

    assert read is not None and read.wait is not None
    assert (read.wait.scope, read.wait.registered_version) == (SCOPE_B, 3)


ENDINGS = ["never-created", "removed", "cleared", "expired", "expired-and-swept"]


@pytest.mark.parametrize("how", ENDINGS)
def test_read_session_without_a_live_session_is_none_like_get_session(
    store: AuditedSessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = f"session-{how}"
    if how != "never-created":
        wait(store, key, SCOPE_A, ttl=TTL if how.startswith("expired") else None)
    if how == "removed":
        store.remove_session(key)
    elif how == "cleared":
        store.clear_wait(CTX, USER, SCOPE_A)
    elif how.startswith("expired"):
        fake_clock.advance(TTL)  # a deadline of now has passed
        if how == "expired-and-swept":
            assert store.sweep_expired() == 1

    assert store.get_session(key) is None
    assert store.read_session(key) is None


def test_read_session_of_a_key_in_a_new_life_counts_every_event_of_its_stream(
    store: AuditedSessionStore,
) -> None:
    wait(store, "k", SCOPE_A)  # v1 created, v2 wait_registered
    store.remove_session("k")  # v3
    wait(store, "k", SCOPE_A, data=data_for(node="again"))  # v4 created, v5 wait_registered

    read = store.read_session("k")

    assert read is not None
    assert read.data == data_for(node="again")
    assert read.version == store.history("k")[-1].version == 5


def test_read_session_with_an_empty_key_is_invalid_input(store: AuditedSessionStore) -> None:
    with raises_invalid():
        store.read_session("")


# -- find, read, update at the version read --------------------------------------------------


def test_find_then_read_then_update_at_the_version_read_applies(
    store: AuditedSessionStore,
) -> None:
    wait(store, "k", SCOPE_A, data=data_for(node="parked"))

    key = store.find_wait_by_scope(CTX, USER, SCOPE_A)
    assert key == "k"
    read = store.read_session(key)
    assert read is not None
    store.update_session(key, data_for(node="resumed"), expected_version=read.version)

    after = store.read_session(key)
    assert after is not None
    assert after.data == data_for(node="resumed")
    assert after.version == read.version + 1
    assert after.wait == read.wait  # an update keeps the wait


def test_a_write_between_read_and_update_is_a_conflict_naming_read_session(
    store: AuditedSessionStore, other_writer: AuditedSessionStore
) -> None:
    wait(store, "k", SCOPE_A, data=data_for(node="parked"))
    key = store.find_wait_by_scope(CTX, USER, SCOPE_A)
    assert key is not None
    read = store.read_session(key)
    assert read is not None

    other_writer.update_session(key, data_for(node="theirs"))  # gets in between
    with pytest.raises(SessionError) as error:
        store.update_session(key, data_for(node="mine"), expected_version=read.version)

    assert error.value.code is ErrorCode.CONFLICT
    assert "read_session()" in error.value.message
    assert store.get_session(key) == data_for(node="theirs")
    assert len(store.history(key)) == read.version + 1


def test_after_a_conflict_reading_again_gives_the_version_that_applies(
    store: AuditedSessionStore, other_writer: AuditedSessionStore
) -> None:
    key = store.create_session(CTX, data_for(node="first"))
    stale = store.read_session(key)
    assert stale is not None
    other_writer.update_session(key, data_for(node="theirs"))
    with pytest.raises(SessionError):
        store.update_session(key, data_for(node="mine"), expected_version=stale.version)

    fresh = store.read_session(key)
    assert fresh is not None and fresh.version == stale.version + 1
    store.update_session(key, data_for(node="mine"), expected_version=fresh.version)
    assert store.get_session(key) == data_for(node="mine")


def append_safely(store: AuditedSessionStore, key: str, item: str) -> None:
    """A runtime's read-modify-write: read the session and its version, change the data,
    update at that version; on a conflict, read again and redo the change."""
    for _ in range(ATTEMPTS):
        read = store.read_session(key)
        assert read is not None
        items = [*json.loads(read.data.context_json), item]
        data = read.data.model_copy(update={"context_json": json.dumps(items)})
        try:
            store.update_session(key, data, expected_version=read.version)
            return
        except SessionError as error:
            assert error.code is ErrorCode.CONFLICT, error
    raise AssertionError(f"{item} did not apply in {ATTEMPTS} attempts")


def test_racing_read_then_update_writers_lose_no_update(
    backend: str, store: AuditedSessionStore, request: pytest.FixtureRequest
) -> None:
    writers = [store] * 4
    if backend != "memory":
        open_another: OpenAnother = request.getfixturevalue("open_another")
        writers = [store, open_another(), open_another(), open_another()]
    key = store.create_session(CTX, data_for(context_json="[]"))

    def five_appends(writer: AuditedSessionStore, n: int) -> None:
        for i in range(5):
            append_safely(writer, key, f"w{n}-{i}")

    errors = run_together([partial(five_appends, w, n) for n, w in enumerate(writers)])

    assert errors == []
    read = store.read_session(key)
    assert read is not None
    assert sorted(json.loads(read.data.context_json)) == sorted(
        f"w{n}-{i}" for n in range(4) for i in range(5)
    )
    assert read.version == 1 + 20


def test_read_session_sees_a_write_another_instance_made(
    store: AuditedSessionStore, open_another: OpenAnother
) -> None:
    """No cache: the version is the stored one, even for a session this instance wrote."""
    key = store.create_session(CTX, data_for(node="mine"))
    other = open_another()
    other.update_session(key, data_for(node="theirs"))
    other.register_wait(CTX, USER, SCOPE_B, key, data_for(node="parked"), timedelta(hours=1))

    read = store.read_session(key)

    assert read is not None
    assert read.data == data_for(node="parked")
    assert read.version == 3
    assert read.wait is not None and read.wait.scope == SCOPE_B
