"""The timed calls of each operation, for any `SessionStore` (ours or a floor).

A workload prepares its store (untimed), then hands out calls in batches; inputs are
built before the timing starts. Reads cycle over `READ_POOL` sessions or waits; writes
get fresh sessions where the operation consumes them (clear_wait, remove_session).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from benchmarks.inputs import (
    WAIT_TTL,
    Wait,
    add_session,
    add_wait,
    ctx_of,
    data_of,
    serial,
    spread_user,
    unique_scope,
)
from benchmarks.timing import Call, Prepare, cycle_calls
from greentic_session import (
    AuditedSessionStore,
    ReplyScope,
    SessionData,
    SessionKey,
    SessionStore,
)

READ_POOL = 100  # reads, updates and turns cycle over this many sessions or waits
FEW_WAITS = 5  # waits of the user whose waits are listed


def create_session(store: SessionStore) -> Prepare:
    def prepare(n: int) -> list[Call]:
        users = [spread_user(serial()) for _ in range(n)]
        return [partial(store.create_session, ctx_of(u), data_of(u, 0)) for u in users]

    return prepare


def get_session(store: SessionStore) -> Prepare:
    keys = [add_session(store, spread_user(i)) for i in range(READ_POOL)]
    assert store.get_session(keys[0]) is not None
    return cycle_calls([partial(store.get_session, key) for key in keys])


def update_session(store: SessionStore) -> Prepare:
    turn = itertools.cycle(enumerate(add_session(store, spread_user(i)) for i in range(READ_POOL)))

    def prepare(n: int) -> list[Call]:
        calls: list[Call] = []
        for i, key in itertools.islice(turn, n):
            data = data_of(spread_user(i), serial())
            calls.append(partial(store.update_session, key, data))
        return calls

    return prepare


def update_get_calls(store: SessionStore, users: list[str]) -> Prepare:
    """update_session then get_session of the same session: one session per user, in rotation."""
    rotation = itertools.cycle([(user, add_session(store, user)) for user in users])

    def cycle(key: SessionKey, data: SessionData) -> None:
        store.update_session(key, data)
        assert store.get_session(key) == data

    def prepare(n: int) -> list[Call]:
        return [
            partial(cycle, key, data_of(user, serial()))
            for user, key in itertools.islice(rotation, n)
        ]

    return prepare


def register_wait(store: SessionStore) -> Prepare:
    """Each call parks an existing session under a new scope, with a TTL."""

    def prepare(n: int) -> list[Call]:
        calls: list[Call] = []
        for _ in range(n):
            user = spread_user(serial())
            ctx, key = ctx_of(user), add_session(store, user)
            scope, data = unique_scope(), data_of(user, 1)
            calls.append(partial(store.register_wait, ctx, user, scope, key, data, ttl=WAIT_TTL))
        return calls

    return prepare


def find_wait_by_scope(store: SessionStore) -> Prepare:
    return find_calls(store, [add_wait(store, spread_user(i)) for i in range(READ_POOL)])


def find_calls(store: SessionStore, waits: list[Wait]) -> Prepare:
    """Lookups that hit: checked once here, outside the timing."""
    for wait in waits:
        assert store.find_wait_by_scope(wait.ctx, wait.user, wait.scope) == wait.key
    return cycle_calls([partial(store.find_wait_by_scope, w.ctx, w.user, w.scope) for w in waits])


def list_waits_for_user(store: SessionStore) -> Prepare:
    user = f"few-{serial()}"
    return list_calls(store, [add_wait(store, user) for _ in range(FEW_WAITS)])


def list_calls(store: SessionStore, waits: list[Wait]) -> Prepare:
    """Lists one user's waits: checked once here, outside the timing."""
    ctx, user = waits[0].ctx, waits[0].user
    assert store.list_waits_for_user(ctx, user) == [wait.key for wait in waits]
    return cycle_calls([partial(store.list_waits_for_user, ctx, user)])


def clear_wait(store: SessionStore) -> Prepare:
    def prepare(n: int) -> list[Call]:
        waits = [add_wait(store, spread_user(serial())) for _ in range(n)]
        return [partial(store.clear_wait, w.ctx, w.user, w.scope) for w in waits]

    return prepare


def remove_session(store: SessionStore) -> Prepare:
    def prepare(n: int) -> list[Call]:
        keys = [add_session(store, spread_user(serial())) for _ in range(n)]
        return [partial(store.remove_session, key) for key in keys]

    return prepare


@dataclass
class Conversation:
    """A parked session: the wait the next reply will find."""

    wait: Wait


def turn(store: SessionStore, talk: Conversation, data: SessionData, scope: ReplyScope) -> None:
    """What a flow runtime does for each message: route it, load, update, park again."""
    wait = talk.wait
    key = store.find_wait_by_scope(wait.ctx, wait.user, wait.scope)
    assert key == wait.key, "the reply must find its wait"
    assert store.get_session(key) is not None
    store.update_session(key, data)
    store.register_wait(wait.ctx, wait.user, scope, key, data, ttl=WAIT_TTL)
    talk.wait = Wait(wait.ctx, wait.user, scope, key)


def turn_calls(store: SessionStore, users: list[str]) -> Prepare:
    """Turns over one parked session per user, in rotation; next inputs built untimed."""
    rotation = itertools.cycle([Conversation(add_wait(store, user)) for user in users])

    def prepare(n: int) -> list[Call]:
        calls: list[Call] = []
        for talk in itertools.islice(rotation, n):
            data = data_of(talk.wait.user, serial())
            scope = unique_scope(talk.wait.scope.conversation)
            calls.append(partial(turn, store, talk, data, scope))
        return calls

    return prepare


def turns(store: SessionStore) -> Prepare:
    return turn_calls(store, [spread_user(i) for i in range(READ_POOL)])


WORKLOADS: dict[str, Callable[[SessionStore], Prepare]] = {
    "create_session": create_session,
    "get_session": get_session,
    "update_session": update_session,
    "register_wait": register_wait,
    "find_wait_by_scope": find_wait_by_scope,
    "list_waits_for_user": list_waits_for_user,
    "clear_wait": clear_wait,
    "remove_session": remove_session,
    "turn": turns,
}
WRITES = ("create_session", "update_session", "register_wait", "clear_wait", "remove_session")


def explain(store: AuditedSessionStore) -> Prepare:
    """Explains waits spread over the log (the store has taken every other workload's
    writes first): reads their scopes' history and streams, not the log."""
    waits = [add_wait(store, spread_user(i)) for i in range(READ_POOL)]
    for wait in waits:
        assert store.explain(wait.ctx, wait.user, wait.scope).session_key == wait.key
    return cycle_calls([partial(store.explain, w.ctx, w.user, w.scope) for w in waits])


AUDIT_WORKLOADS: dict[str, Callable[[AuditedSessionStore], Prepare]] = {"explain": explain}
"""Operations of our store alone: a floor has no log to audit."""
