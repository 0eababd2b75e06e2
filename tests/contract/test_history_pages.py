"""`history` in pieces (`from_version`, `limit`, `reverse`), and the log followed by
position (`log_position`, `events_after`)."""

from __future__ import annotations

import pytest

from greentic_session import AuditedSessionStore
from tests.contract.audit_helpers import CTX, SCOPE, USER, data, raises_invalid, wait
from tests.support import make_ctx, make_data


@pytest.fixture
def key(store: AuditedSessionStore) -> str:
    """A stream of seven events: created, five updates, removed."""
    made = store.create_session(CTX, data("v1"))
    for version in range(2, 7):
        store.update_session(made, data(f"v{version}"))
    store.remove_session(made)
    return made


def versions(store: AuditedSessionStore, key: str, **window: object) -> list[int]:
    return [event.version for event in store.history(key, **window)]  # type: ignore[arg-type]


def test_history_without_a_window_is_the_whole_stream(store: AuditedSessionStore, key: str) -> None:
    assert versions(store, key) == [1, 2, 3, 4, 5, 6, 7]


def test_history_from_a_version_on(store: AuditedSessionStore, key: str) -> None:
    assert versions(store, key, from_version=5) == [5, 6, 7]
    assert versions(store, key, from_version=8) == []


def test_history_with_a_limit_is_its_first_events(store: AuditedSessionStore, key: str) -> None:
    assert versions(store, key, limit=2) == [1, 2]
    assert versions(store, key, from_version=3, limit=2) == [3, 4]


def test_history_reversed_is_newest_first(store: AuditedSessionStore, key: str) -> None:
    assert versions(store, key, reverse=True) == [7, 6, 5, 4, 3, 2, 1]
    assert versions(store, key, reverse=True, limit=3) == [7, 6, 5]
    assert versions(store, key, reverse=True, from_version=2) == [2, 1]


def test_a_page_of_history_describes_its_events_as_the_whole_does(
    store: AuditedSessionStore, key: str
) -> None:
    whole = store.history(key)

    assert store.history(key, from_version=4, limit=2) == whole[3:5]
    assert store.history(key, reverse=True, from_version=6, limit=2) == [whole[5], whole[4]]


@pytest.mark.parametrize(
    "window",
    [{"from_version": 0}, {"limit": 0}, {"limit": "2"}, {"from_version": 1.5}, {"reverse": 1}],
    ids=repr,
)
def test_a_bad_window_is_invalid_input(
    store: AuditedSessionStore, key: str, window: dict[str, object]
) -> None:
    with raises_invalid():
        store.history(key, **window)  # type: ignore[arg-type]


def test_log_position_is_the_last_events(store: AuditedSessionStore) -> None:
    assert store.log_position() == 0
    made = store.create_session(CTX, data("a"))
    wait(store, made, "b")

    assert store.log_position() == store.history(made)[-1].position


def test_events_after_a_position_are_the_later_ones_in_log_order(
    store: AuditedSessionStore,
) -> None:
    first = store.create_session(CTX, data("a"))
    start = store.log_position()
    second = store.create_session(CTX, data("b"))
    wait(store, first, "c")
    store.clear_wait(CTX, USER, SCOPE)

    events = store.events_after(start)

    assert [(e.session_key, e.type) for e in events] == [
        (second, "created"),
        (first, "wait_registered"),
        (first, "wait_cleared"),
    ]
    assert events == [*store.history(second), *store.history(first)[1:]]


def test_events_after_reads_at_most_limit_positions(store: AuditedSessionStore) -> None:
    for n in range(5):
        store.create_session(CTX, data(f"n{n}"))

    assert [e.position for e in store.events_after(1, limit=2)] == [2, 3]


def test_events_after_keeps_the_tenant_user_or_session_asked_for(
    store: AuditedSessionStore,
) -> None:
    other = make_ctx(tenant="tenant-b", user="bob")
    mine = store.create_session(CTX, data("a"))
    theirs = store.create_session(other, make_data(other))
    store.remove_session(theirs)  # an ending still belongs to its tenant

    assert {e.session_key for e in store.events_after(0, tenant="tenant-a")} == {mine}
    assert [e.type for e in store.events_after(0, user="bob")] == ["created", "removed"]
    assert [e.session_key for e in store.events_after(0, session=mine)] == [mine]


@pytest.mark.parametrize(
    "arguments",
    [{"position": -1}, {"position": 0, "limit": 0}, {"position": 0, "tenant": "bad tenant"}],
    ids=repr,
)
def test_events_after_with_bad_input_is_invalid_input(
    store: AuditedSessionStore, arguments: dict[str, object]
) -> None:
    with raises_invalid():
        store.events_after(**arguments)  # type: ignore[arg-type]
