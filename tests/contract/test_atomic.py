"""The atomic variants runtimes use to avoid races: `update_session(expected_version=N)`
and `register_wait(if_absent=True)`, on every backend; and concurrent plain writes, which
retry and never fail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from greentic_session import AuditedSessionStore, ErrorCode, SessionError
from tests.support import FakeClock, make_ctx, make_data, make_scope, raises_code, run_together

CTX = make_ctx(user="alice")
SCOPE = make_scope("chat-1", "thread-1")
OpenAnother = Callable[[], AuditedSessionStore]


@pytest.fixture
def writers(
    backend: str, store: AuditedSessionStore, request: pytest.FixtureRequest
) -> list[AuditedSessionStore]:
    """Four writers: instances on one database, or threads on the one memory store."""
    if backend == "memory":
        return [store] * 4
    open_another: OpenAnother = request.getfixturevalue("open_another")
    return [store, open_another(), open_another(), open_another()]


def last_version(store: AuditedSessionStore, key: str) -> int:
    return store.history(key)[-1].version


def test_an_update_at_the_expected_version_applies(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, make_data(CTX, node="first"))
    store.update_session(key, make_data(CTX, node="second"), expected_version=1)
    assert store.get_session(key) == make_data(CTX, node="second")
    assert last_version(store, key) == 2


def test_an_update_at_a_stale_version_is_a_conflict_and_writes_nothing(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, make_data(CTX, node="first"))
    store.update_session(key, make_data(CTX, node="second"))
    with raises_code(ErrorCode.CONFLICT):
        store.update_session(key, make_data(CTX, node="stale"), expected_version=1)
    assert store.get_session(key) == make_data(CTX, node="second")
    assert last_version(store, key) == 2


def test_the_version_counts_every_event_of_the_stream(store: AuditedSessionStore) -> None:
    """Registering a wait moves the version too: what `history()` reports last is the one."""
    key = store.create_session(CTX, make_data(CTX))
    store.register_wait(CTX, "alice", SCOPE, key, make_data(CTX))
    with raises_code(ErrorCode.CONFLICT):
        store.update_session(key, make_data(CTX, node="x"), expected_version=1)
    store.update_session(key, make_data(CTX, node="x"), expected_version=last_version(store, key))
    assert store.get_session(key) == make_data(CTX, node="x")


def test_an_expected_version_of_a_missing_session_is_not_found(
    store: AuditedSessionStore,
) -> None:
    with raises_code(ErrorCode.NOT_FOUND):
        store.update_session("nobody", make_data(CTX), expected_version=1)


@pytest.mark.parametrize("bad", [0, -1, True, 1.0, "1"])
def test_a_bad_expected_version_is_invalid_input(store: AuditedSessionStore, bad: object) -> None:
    key = store.create_session(CTX, make_data(CTX))
    with raises_code(ErrorCode.INVALID_INPUT):
        store.update_session(key, make_data(CTX, node="x"), expected_version=bad)  # type: ignore[arg-type]
    assert len(store.history(key)) == 1


def test_an_expected_version_update_in_another_instance_sees_the_stored_version(
    store: AuditedSessionStore, open_another: OpenAnother
) -> None:
    """Each instance caches what it last wrote: the check must use the stored version."""
    key = store.create_session(CTX, make_data(CTX))
    store.update_session(key, make_data(CTX, node="mine"))
    other = open_another()
    other.update_session(key, make_data(CTX, node="theirs"))
    store.update_session(key, make_data(CTX, node="after"), expected_version=3)
    assert other.get_session(key) == make_data(CTX, node="after")


def test_of_two_racing_updates_at_one_version_exactly_one_applies(
    store: AuditedSessionStore, writers: list[AuditedSessionStore]
) -> None:
    key = store.create_session(CTX, make_data(CTX))
    instances = writers
    errors = run_together(
        [
            lambda s=s, n=n: s.update_session(  # type: ignore[misc]
                key, make_data(CTX, node=f"writer-{n}"), expected_version=1
            )
            for n, s in enumerate(instances)
        ]
    )
    assert len(errors) == 3
    assert all(isinstance(e, SessionError) and e.code is ErrorCode.CONFLICT for e in errors)
    assert last_version(store, key) == 2


def test_racing_plain_updates_all_apply_and_the_last_writer_wins(
    store: AuditedSessionStore, writers: list[AuditedSessionStore]
) -> None:
    key = store.create_session(CTX, make_data(CTX))
    instances = writers
    errors = run_together(
        [
            lambda s=s, n=n: [  # type: ignore[misc]
                s.update_session(key, make_data(CTX, node=f"w{n}-{i}")) for i in range(10)
            ]
            for n, s in enumerate(instances)
        ]
    )
    assert errors == []
    history = store.history(key)
    assert len(history) == 1 + 40
    assert store.get_session(key) == history[-1].data


def test_register_if_absent_on_a_free_scope_registers(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, make_data(CTX))
    store.register_wait(CTX, "alice", SCOPE, key, make_data(CTX), if_absent=True)
    assert store.find_wait_by_scope(CTX, "alice", SCOPE) == key


def test_register_if_absent_on_a_held_scope_is_a_conflict_and_writes_nothing(
    store: AuditedSessionStore,
) -> None:
    holder = store.create_session(CTX, make_data(CTX))
    store.register_wait(CTX, "alice", SCOPE, holder, make_data(CTX))
    newcomer = store.create_session(CTX, make_data(CTX))
    with raises_code(ErrorCode.CONFLICT):
        store.register_wait(CTX, "alice", SCOPE, newcomer, make_data(CTX), if_absent=True)
    assert store.find_wait_by_scope(CTX, "alice", SCOPE) == holder
    assert [e.type for e in store.history(newcomer)] == ["created"]
    assert [e.type for e in store.history(holder)] == ["created", "wait_registered"]


def test_register_if_absent_of_a_new_key_on_a_held_scope_creates_nothing(
    store: AuditedSessionStore,
) -> None:
    holder = store.create_session(CTX, make_data(CTX))
    store.register_wait(CTX, "alice", SCOPE, holder, make_data(CTX))
    with raises_code(ErrorCode.CONFLICT):
        store.register_wait(CTX, "alice", SCOPE, "new-key", make_data(CTX), if_absent=True)
    assert store.history("new-key") == []
    assert store.get_session("new-key") is None


def test_register_if_absent_when_the_holder_re_registers_is_a_conflict(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, make_data(CTX))
    store.register_wait(CTX, "alice", SCOPE, key, make_data(CTX))
    with raises_code(ErrorCode.CONFLICT):
        store.register_wait(CTX, "alice", SCOPE, key, make_data(CTX), if_absent=True)


def test_register_if_absent_takes_a_scope_whose_wait_expired(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    holder = store.create_session(CTX, make_data(CTX))
    store.register_wait(CTX, "alice", SCOPE, holder, make_data(CTX), ttl=timedelta(seconds=5))
    fake_clock.advance(timedelta(seconds=5))
    newcomer = store.create_session(CTX, make_data(CTX))
    store.register_wait(CTX, "alice", SCOPE, newcomer, make_data(CTX), if_absent=True)
    assert store.find_wait_by_scope(CTX, "alice", SCOPE) == newcomer


def test_register_if_absent_takes_a_cleared_scope(store: AuditedSessionStore) -> None:
    holder = store.create_session(CTX, make_data(CTX))
    store.register_wait(CTX, "alice", SCOPE, holder, make_data(CTX))
    store.clear_wait(CTX, "alice", SCOPE)
    newcomer = store.create_session(CTX, make_data(CTX))
    store.register_wait(CTX, "alice", SCOPE, newcomer, make_data(CTX), if_absent=True)
    assert store.find_wait_by_scope(CTX, "alice", SCOPE) == newcomer


def test_if_absent_must_be_a_bool(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, make_data(CTX))
    with raises_code(ErrorCode.INVALID_INPUT):
        store.register_wait(CTX, "alice", SCOPE, key, make_data(CTX), if_absent="yes")  # type: ignore[arg-type]


def test_of_racing_if_absent_registrations_exactly_one_wins(
    store: AuditedSessionStore, writers: list[AuditedSessionStore]
) -> None:
    instances = writers
    keys = [instance.create_session(CTX, make_data(CTX)) for instance in instances]
    errors = run_together(
        [
            lambda s=s, k=k: s.register_wait(  # type: ignore[misc]
                CTX, "alice", SCOPE, k, make_data(CTX), if_absent=True
            )
            for s, k in zip(instances, keys, strict=True)
        ]
    )
    assert len(errors) == 3
    assert all(isinstance(e, SessionError) and e.code is ErrorCode.CONFLICT for e in errors)
    winner = store.find_wait_by_scope(CTX, "alice", SCOPE)
    assert winner in keys
    assert store.list_waits_for_user(CTX, "alice") == [winner]
    assert store.verify().ok
