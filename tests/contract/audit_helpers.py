"""Names and helpers shared by the tests of the audit tools (history, time travel, diff,
explain, sweep, rebuild, export and import)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from greentic_session import (
    AuditedSessionStore,
    ErrorCode,
    ReplyScope,
    SessionData,
    SessionKey,
    TenantCtx,
)
from tests.support import FakeClock, make_ctx, make_data, make_scope, raises_code

USER = "alice"
CTX = make_ctx(user=USER)
SCOPE = make_scope("chat-1")
OTHER_SCOPE = make_scope("chat-2")
STEP = timedelta(minutes=1)
TTL = timedelta(minutes=5)


def data(node: str, context_json: str = "{}", ctx: TenantCtx = CTX) -> SessionData:
    return make_data(ctx, node=node, context_json=context_json)


def later(clock: FakeClock, delta: timedelta = STEP) -> datetime:
    """Move the clock on and return the new instant."""
    clock.advance(delta)
    return clock.now


def wait(
    store: AuditedSessionStore,
    key: str,
    node: str,
    *,
    scope: ReplyScope = SCOPE,
    ctx: TenantCtx = CTX,
    user: str = USER,
    ttl: timedelta | None = None,
) -> None:
    store.register_wait(ctx, user, scope, key, data(node, ctx=ctx), ttl)


def raises_invalid() -> AbstractContextManager[None]:
    return raises_code(ErrorCode.INVALID_INPUT)


def populate(store: AuditedSessionStore, clock: FakeClock) -> list[SessionKey]:
    """A store with something of everything: updates, a supersession, a cleared wait, a
    removal, a recorded expiry, a second life, a pending deadline, a plain-text context."""
    traced = CTX.model_copy(update={"trace_id": "t-1", "correlation_id": "c-1"})
    first = store.create_session(traced, data("first.1", '{"step": 1}'))
    later(clock)
    store.update_session(first, data("first.2", '{"step": 2}'))
    wait(store, first, "first.3", ttl=TTL)
    later(clock)
    wait(store, "second", "second.1")  # supersedes first
    later(clock)
    wait(store, "third", "third.1", scope=OTHER_SCOPE, ttl=timedelta(seconds=30))
    later(clock)
    assert store.sweep_expired() == 1  # third expires
    wait(store, "third", "third.2", scope=OTHER_SCOPE, ttl=TTL)  # its second life
    later(clock)
    plain = store.create_session(CTX, data("plain.1", "not json"))
    gone = store.create_session(CTX, data("gone.1"))
    store.remove_session(gone)
    store.clear_wait(CTX, USER, SCOPE)  # second ends
    return [first, SessionKey("second"), SessionKey("third"), plain, gone]
