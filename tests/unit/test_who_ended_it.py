"""The caller's actor and trace ids on the events that end a session are part of what each
event's hash covers, so an edit to "who removed it" shows in `verify`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from greentic_session import ReplyScope, SessionKey, UserId
from greentic_session.domain.aggregate import Session
from greentic_session.domain.chain import event_hash
from greentic_session.domain.operation import Operation, Trace, trace_of
from greentic_session.domain.rules import scope_key, user_key
from tests.support import make_ctx, make_data

NOW = datetime(2030, 1, 1, tzinfo=UTC)
CTX = make_ctx(user="alice")
ALICE = UserId("alice")
SCOPE = ReplyScope(conversation="chat-1")
OPERATOR = make_ctx(user="ops-bob").model_copy(update={"trace_id": "t-cleanup"})
TRACED = Operation(NOW, trace_of(OPERATOR))


def last_event(session: Session) -> Session.Event:
    event = session.collect_events()[-1]
    assert isinstance(event, Session.Event)
    return event


def hash_with_trace(event: Session.Event, trace: Trace) -> str:
    """The hash the event would have if its stored trace said `trace`."""
    body = {**event.body(), "trace": trace}
    return event_hash(
        event.originator_id,
        event.originator_version,
        type(event).__qualname__,
        event.timestamp,
        event.prev_hash,
        body,
    )


def removed_by_operator() -> Session.Event:
    session = Session.start(CTX, SessionKey("k"), make_data(CTX), Operation(NOW))
    session.remove(TRACED)
    return last_event(session)


def test_a_removal_records_the_operations_actor_and_trace() -> None:
    removed = removed_by_operator()
    assert isinstance(removed, Session.Removed)
    assert removed.trace == {"actor": "ops-bob", "trace_id": "t-cleanup"}
    assert removed.content_hash() == removed.hash


def test_a_removals_actor_is_covered_by_its_hash() -> None:
    removed = removed_by_operator()
    assert hash_with_trace(removed, {**removed.trace, "actor": "mallory"}) != removed.hash


def test_an_expirys_trace_is_covered_by_its_hash() -> None:
    session = Session.start(CTX, SessionKey("k"), make_data(CTX), Operation(NOW))
    session.register_wait(
        CTX,
        ALICE,
        SCOPE,
        make_data(CTX),
        NOW + timedelta(minutes=1),
        Operation(NOW),
        user_key=user_key(CTX, ALICE),
        scope_key=scope_key(CTX, ALICE, SCOPE),
    )
    assert session.expire_if_due(Operation(NOW + timedelta(minutes=1), TRACED.trace))
    expired = last_event(session)
    assert isinstance(expired, Session.WaitExpired)
    assert expired.trace == TRACED.trace
    assert expired.content_hash() == expired.hash
    assert hash_with_trace(expired, {}) != expired.hash
