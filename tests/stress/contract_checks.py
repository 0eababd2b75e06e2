"""The contract, checked on a stress run afterwards: answers the contract allows, reads
that agree with the histories, a sweep that ends what is due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from greentic_session import ErrorCode, EventSourcedSessionStore, SessionEvent
from tests.stress.accounting import store_checks
from tests.stress.worker import (
    CLEAR,
    CREATE,
    FIND,
    GET,
    LIST,
    OWNERS,
    REGISTER,
    REGISTER_IF_ABSENT,
    REMOVE,
    SCOPES,
    SWEEP,
    UPDATE,
    UPDATE_EXPECTED,
    owner_ctx,
    owner_user,
)

# What each operation may answer besides success: the codes the contract documents for it.
# `conflict` on a write without a version check: the store gave up after 20 clashes.
ALLOWED_FAILURES: dict[str, set[str]] = {
    CREATE: set(),
    UPDATE: {ErrorCode.NOT_FOUND, ErrorCode.CONFLICT},
    UPDATE_EXPECTED: {ErrorCode.NOT_FOUND, ErrorCode.CONFLICT},
    REGISTER: {ErrorCode.CONFLICT},
    REGISTER_IF_ABSENT: {ErrorCode.CONFLICT},
    CLEAR: {ErrorCode.CONFLICT},
    REMOVE: {ErrorCode.NOT_FOUND, ErrorCode.CONFLICT},
    GET: set(),
    FIND: set(),
    LIST: set(),
    SWEEP: {ErrorCode.CONFLICT},
}


def waiting_on(history: list[SessionEvent], now: datetime) -> SessionEvent | None:
    """The `wait_registered` event of the session's live wait, from its history alone."""
    for event in reversed(history):
        if event.type.value == "wait_registered":
            last = history[-1]
            if last.data is None or (last.expires_at is not None and last.expires_at <= now):
                return None
            return event
        if event.type.value in ("wait_superseded", "wait_cleared", "wait_expired", "removed"):
            return None
    return None


def contract_problems(
    store: EventSourcedSessionStore, owners_of: Mapping[str, int], now: datetime
) -> list[str]:
    """What every reader sees agrees with each session's history: its data, where it waits,
    who it belongs to; every live wait is routed, and each user's waits are listed in the
    order they were registered. (`store` reads time at `now`.)"""
    problems = []
    histories = {key: store.history(key) for key in owners_of}
    live_waits: dict[tuple[int, int], str] = {}
    live_sessions = 0
    for key, history in histories.items():
        owner = owners_of[key]
        last = history[-1] if history else None
        live = (
            last is not None
            and last.data is not None
            and (last.expires_at is None or last.expires_at > now)
        )
        want = last.data if live and last is not None else None
        got = store.get_session(key)
        live_sessions += got is not None
        if got != want:
            problems.append(f"get_session({key}) is {got}, its history says {want}")
        if got is not None:
            tenant, team, user = OWNERS[owner]
            ctx = got.tenant_ctx
            if (ctx.tenant_id, ctx.normalized_team, ctx.normalized_user) != (tenant, team, user):
                problems.append(f"{key} holds the data of another owner: {ctx}")
        wait = waiting_on(history, now)
        if wait is not None:
            assert wait.scope is not None
            scope = SCOPES.index(wait.scope)
            if wait.user_id != owner_user(owner):
                problems.append(f"{key} waits for user {wait.user_id}")
            if (owner, scope) in live_waits:
                problems.append(f"{key} and {live_waits[owner, scope]} both wait on {wait.scope}")
            live_waits[owner, scope] = key
    print(f"at the end: {live_sessions} of {len(owners_of)} sessions live, {len(live_waits)} waits")
    for owner in range(len(OWNERS)):
        ctx, user = owner_ctx(owner), owner_user(owner)
        routed = []
        for scope in range(len(SCOPES)):
            found = store.find_wait_by_scope(ctx, user, SCOPES[scope])
            if found != live_waits.get((owner, scope)):
                problems.append(
                    f"find_wait_by_scope({OWNERS[owner]}, {SCOPES[scope]}) is {found}, "
                    f"the histories say {live_waits.get((owner, scope))}"
                )
            if found is not None:
                routed.append(found)

        def registered_at(key: str) -> int:
            wait = waiting_on(histories.get(key, []), now)
            return 0 if wait is None else wait.position

        listed = store.list_waits_for_user(ctx, user)
        in_order = sorted(routed, key=registered_at)
        if listed != in_order:
            problems.append(
                f"list_waits_for_user({OWNERS[owner]}) is {listed}; by registration: {in_order}"
            )
    return problems


def sweep_problems(store: EventSourcedSessionStore, now: datetime) -> list[str]:
    """A sweep records exactly the expiries that were due, and leaves a consistent store."""
    due = {
        key
        for key, state in store.current_read_models().states.items()
        if state.data is not None and state.expires_at is not None and state.expires_at <= now
    }
    swept = store.sweep_expired()
    print(f"the sweep expired {swept} sessions")
    problems = [] if swept == len(due) else [f"the sweep expired {swept} sessions, {len(due)} due"]
    after = store.current_read_models().states
    left = [
        key
        for key, state in after.items()
        if state.data is not None and state.expires_at is not None and state.expires_at <= now
    ]
    if left:
        problems.append(f"still due after the sweep: {left}")
    return problems + store_checks(store)
