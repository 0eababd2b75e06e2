"""`rebuild_projections`: the read models rebuilt from the log, while others read and
write."""

from __future__ import annotations

import threading

from greentic_session import AuditedSessionStore
from tests.contract.audit_helpers import CTX, OTHER_SCOPE, SCOPE, USER, populate, wait
from tests.support import FakeClock, make_scope


def test_rebuild_projections_gives_the_same_answers_and_verify_is_clean(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    keys = populate(store, fake_clock)

    def answers() -> list[object]:
        return [
            [store.get_session(key) for key in keys],
            store.find_wait_by_scope(CTX, USER, SCOPE),
            store.find_wait_by_scope(CTX, USER, OTHER_SCOPE),
            store.list_waits_for_user(CTX, USER),
        ]

    before = answers()
    assert store.verify().ok

    store.rebuild_projections()

    assert answers() == before
    report = store.verify()
    assert report.ok, report.problems


def test_rebuild_keeps_the_order_of_a_users_waits(store: AuditedSessionStore) -> None:
    scopes = [make_scope(f"chat-{n}") for n in range(3)]
    for n, scope in enumerate(scopes):
        wait(store, f"s{n}", "n1", scope=scope)
    wait(store, "s0", "n2", scope=scopes[0])  # registered again: now the latest
    assert store.list_waits_for_user(CTX, USER) == ["s1", "s2", "s0"]

    store.rebuild_projections()

    assert store.list_waits_for_user(CTX, USER) == ["s1", "s2", "s0"]


def test_readers_never_see_a_missing_session_while_projections_rebuild(
    store: AuditedSessionStore,
) -> None:
    scopes = [make_scope(f"chat-{n}") for n in range(10)]
    keys = [f"s{n}" for n in range(10)]
    for key, scope in zip(keys, scopes, strict=True):
        wait(store, key, "n1", scope=scope)
    stop, started = threading.Event(), threading.Event()
    misses: list[str] = []
    errors: list[BaseException] = []
    passes = [0]

    def read() -> None:
        try:
            while not stop.is_set():
                for key, scope in zip(keys, scopes, strict=True):
                    if store.get_session(key) is None:
                        misses.append(f"get_session({key})")
                    if store.find_wait_by_scope(CTX, USER, scope) != key:
                        misses.append(f"find_wait_by_scope for {key}")
                if store.list_waits_for_user(CTX, USER) != keys:
                    misses.append("list_waits_for_user")
                passes[0] += 1
                started.set()
        except BaseException as exc:
            errors.append(exc)
            started.set()

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        assert started.wait(10)
        before = passes[0]
        for _ in range(5):
            store.rebuild_projections()
        stop.wait(0.05)
        during = passes[0] - before
    finally:
        stop.set()
        for reader in readers:
            reader.join()

    assert errors == []
    assert misses == []
    assert during > 0
    assert store.verify().ok


def test_rebuild_while_others_write_loses_no_write(store: AuditedSessionStore) -> None:
    """Writes that race a rebuild wait for it, and the read models still equal a replay."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        round_ = 0
        try:
            while not stop.is_set():
                scope = make_scope(f"chat-{writer}-{round_ % 3}")
                wait(store, f"w{writer}-{round_ % 4}", "n1", scope=scope)
                store.clear_wait(CTX, USER, make_scope(f"chat-{writer}-{(round_ + 1) % 3}"))
                round_ += 1
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for writer in writers:
        writer.start()
    try:
        for _ in range(10):
            store.rebuild_projections()
    finally:
        stop.set()
        for writer in writers:
            writer.join()

    assert errors == []
    report = store.verify()
    assert report.ok, report.problems


def test_one_users_waits_registered_at_once_are_listed_in_log_order(
    store: AuditedSessionStore,
) -> None:
    """Writers of different sessions do not wait for each other; the user's waits still
    come back in the order a replay of the log gives."""
    errors: list[BaseException] = []

    def register(writer: int) -> None:
        try:
            for round_ in range(25):
                scope = make_scope(f"chat-{writer}-{round_}")
                wait(store, f"w{writer}-{round_ % 5}", "n1", scope=scope)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=register, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    assert errors == []
    assert len(store.list_waits_for_user(CTX, USER)) == 20
    report = store.verify()  # the stored read models equal a replay of the log
    assert report.ok, report.problems
