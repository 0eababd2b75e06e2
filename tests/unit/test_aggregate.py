"""Unit tests of the `Session` aggregate: the events each command records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from greentic_session import ErrorCode, ReplyScope, SessionError, SessionKey, UserId
from greentic_session.domain.aggregate import Session
from greentic_session.domain.operation import Operation
from greentic_session.domain.rules import scope_key, user_key
from greentic_session.domain.state import stream_id
from tests.support import make_ctx, make_data

NOW = datetime(2030, 1, 1, tzinfo=UTC)
OP = Operation(NOW)
CTX = make_ctx(user="alice")
DATA = make_data(CTX)
SCOPE = ReplyScope(conversation="chat-1")
ALICE = UserId("alice")


def kinds(session: Session) -> list[str]:
    return [event.kind for event in session.collect_events()]  # type: ignore[attr-defined]


def park(session: Session, expires_at: datetime | None = None) -> None:
    session.register_wait(
        CTX,
        ALICE,
        SCOPE,
        DATA,
        expires_at,
        OP,
        user_key=user_key(CTX, ALICE),
        scope_key=scope_key(CTX, ALICE, SCOPE),
    )


def test_the_stream_id_is_derived_from_the_key() -> None:
    session = Session.start(CTX, SessionKey("k1"), DATA, OP)
    assert session.id == stream_id("k1") == stream_id("k1")
    assert stream_id("k1") != stream_id("k2")


def test_a_new_session_with_a_wait_records_the_data_once() -> None:
    session = Session.start(CTX, SessionKey("k1"), DATA, OP)
    park(session)
    events = session.collect_events()
    assert [e.kind for e in events] == ["created", "wait_registered"]  # type: ignore[attr-defined]
    assert events[1].data is None  # type: ignore[attr-defined]


def test_an_ended_session_starts_a_new_life_on_the_same_stream() -> None:
    session = Session.start(CTX, SessionKey("k1"), DATA, OP)
    session.remove(OP)
    park(session)
    assert kinds(session) == ["created", "removed", "created", "wait_registered"]
    assert session.version == 4 and session.is_live(NOW)


def test_a_write_that_meets_an_expired_session_records_the_expiry_first() -> None:
    session = Session.start(CTX, SessionKey("k1"), DATA, OP)
    park(session, expires_at=NOW - timedelta(seconds=1))
    session.collect_events()
    with pytest.raises(SessionError) as caught:
        session.update(DATA, OP)
    assert caught.value.code is ErrorCode.NOT_FOUND
    assert kinds(session) == ["wait_expired"]


def test_superseding_keeps_the_data_and_drops_the_wait() -> None:
    session = Session.start(CTX, SessionKey("k1"), DATA, OP)
    park(session)
    session.supersede(scope_key(CTX, ALICE, SCOPE), SessionKey("k2"), OP)
    assert session.wait is None and session.data == DATA
    assert kinds(session)[-1] == "wait_superseded"


def test_restoring_from_the_state_row_needs_no_replay() -> None:
    session = Session.start(CTX, SessionKey("k1"), DATA, OP)
    park(session)
    restored = Session.restore(session.state())
    assert restored.state() == session.state()
    assert restored.version == session.version


def test_the_log_replays_to_the_same_state() -> None:
    session = Session.start(CTX, SessionKey("k1"), DATA, OP)
    park(session)
    session.update(DATA, OP)
    events = session.collect_events()
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert isinstance(replayed, Session)
    assert replayed.state() == session.state()


def test_a_session_holds_the_scope_it_waits_on_while_live() -> None:
    """What `register_wait(if_absent=True)` decides on: the holder's own state."""
    held = scope_key(CTX, ALICE, SCOPE)
    other = scope_key(CTX, ALICE, ReplyScope(conversation="chat-2"))
    session = Session.start(CTX, SessionKey("k"), DATA, OP)
    assert not session.holds(held, NOW)
    park(session, NOW + timedelta(minutes=1))
    assert session.holds(held, NOW)
    assert not session.holds(other, NOW)
    assert not session.holds(held, NOW + timedelta(minutes=1))  # its deadline has come
