"""Unit tests of the scope-takeover rule (`domain.takeover`): who gets a reply scope when
a session registers a wait on it, decided on aggregates alone, with no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from greentic_session import (
    ErrorCode,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionError,
    SessionKey,
    TenantCtx,
    UserId,
)
from greentic_session.domain.aggregate import Session
from greentic_session.domain.operation import Operation
from greentic_session.domain.rules import scope_key, user_key
from greentic_session.domain.takeover import (
    WaitRequest,
    ensure_scope_free,
    rival_of,
    take_scope,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)
OP = Operation(NOW)
ALICE = UserId("alice")
CTX = TenantCtx.new("dev", "tenant-a").with_user(ALICE)
DATA = SessionData(
    tenant_ctx=CTX, flow_id="flow", cursor=SessionCursor(node_pointer="n"), context_json="{}"
)
SCOPE = ReplyScope(conversation="chat-1")
OTHER_SCOPE = ReplyScope(conversation="chat-2")
OLD, NEW = SessionKey("old"), SessionKey("new")


def request(
    scope: ReplyScope = SCOPE, ttl: timedelta | None = None, *, if_absent: bool = False
) -> WaitRequest:
    return WaitRequest(CTX, ALICE, scope, DATA, ttl, if_absent)


def waiting(key: SessionKey, scope: ReplyScope = SCOPE, ttl: timedelta | None = None) -> Session:
    """A stored session of `key` waiting on `scope`, its events already saved."""
    session = Session.start(CTX, key, DATA, OP)
    take_scope(session, request(scope, ttl), OP, holder=None, rival=None)
    session.collect_events()
    return session


def kinds(session: Session) -> list[str]:
    return [event.kind for event in session.collect_events()]  # type: ignore[attr-defined]


def test_a_wait_request_is_indexed_under_the_callers_user_and_scope() -> None:
    wait = request()
    assert wait.user_key == user_key(CTX, ALICE)
    assert wait.scope_key == scope_key(CTX, ALICE, SCOPE)


def test_nobody_indexed_on_the_scope_means_no_rival() -> None:
    assert rival_of(None, NEW) is None


def test_a_session_registering_again_on_its_own_scope_has_no_rival() -> None:
    assert rival_of("new", NEW) is None


def test_another_session_indexed_on_the_scope_is_the_rival() -> None:
    assert rival_of("old", NEW) == OLD


def test_a_free_scope_is_taken_without_superseding_anyone() -> None:
    session = Session.start(CTX, NEW, DATA, OP)
    take_scope(session, request(), OP, holder=None, rival=None)
    assert kinds(session) == ["created", "wait_registered"]
    assert session.holds(request().scope_key, NOW)


def test_taking_a_held_scope_supersedes_the_rival_and_keeps_its_data() -> None:
    old, new = waiting(OLD), Session.start(CTX, NEW, DATA, OP)
    take_scope(new, request(), OP, holder="old", rival=old)
    assert kinds(old) == ["wait_superseded"]
    assert old.wait is None and old.data == DATA
    assert new.holds(request().scope_key, NOW)


def test_a_rival_waiting_on_another_scope_is_left_alone() -> None:
    old, new = waiting(OLD, OTHER_SCOPE), Session.start(CTX, NEW, DATA, OP)
    take_scope(new, request(), OP, holder="old", rival=old)
    assert kinds(old) == []


def test_an_expired_rival_records_its_expiry_instead_of_being_superseded() -> None:
    old = waiting(OLD, ttl=timedelta(0))
    take_scope(Session.start(CTX, NEW, DATA, OP), request(), OP, holder="old", rival=old)
    assert kinds(old) == ["wait_expired"]


def test_a_session_registering_again_on_its_own_scope_stays_its_holder() -> None:
    session = waiting(NEW)
    take_scope(session, request(), OP, holder="new", rival=None)
    assert kinds(session) == ["wait_registered"]
    assert session.holds(request().scope_key, NOW)


def test_if_absent_with_a_live_holder_is_a_conflict_and_records_nothing() -> None:
    old, new = waiting(OLD), waiting(NEW, OTHER_SCOPE)
    with pytest.raises(SessionError) as caught:
        take_scope(new, request(if_absent=True), OP, holder="old", rival=old)
    assert caught.value.code is ErrorCode.CONFLICT
    assert "session old already waits on this scope" in caught.value.message
    assert (kinds(old), kinds(new)) == ([], [])


def test_if_absent_against_the_sessions_own_live_wait_is_a_conflict() -> None:
    session = waiting(NEW)
    with pytest.raises(SessionError) as caught:
        take_scope(session, request(if_absent=True), OP, holder="new", rival=None)
    assert caught.value.code is ErrorCode.CONFLICT


def test_if_absent_with_an_expired_holder_takes_the_scope() -> None:
    old, new = waiting(OLD, ttl=timedelta(0)), Session.start(CTX, NEW, DATA, OP)
    take_scope(new, request(if_absent=True), OP, holder="old", rival=old)
    assert new.holds(request().scope_key, NOW)


def test_if_absent_is_decided_on_the_holders_state_not_on_the_index_entry() -> None:
    """The index still names `old`, but its stored state no longer waits there."""
    old = waiting(OLD)
    old.supersede(request().scope_key, SessionKey("third"), OP)
    old.collect_events()
    new = Session.start(CTX, NEW, DATA, OP)
    take_scope(new, request(if_absent=True), OP, holder="old", rival=old)
    assert new.holds(request().scope_key, NOW)


def test_if_absent_with_an_indexed_holder_that_has_no_stream_takes_the_scope() -> None:
    new = Session.start(CTX, NEW, DATA, OP)
    take_scope(new, request(if_absent=True), OP, holder="old", rival=None)
    assert new.holds(request().scope_key, NOW)


def test_a_ttl_sets_the_waits_deadline_from_the_operations_instant() -> None:
    session = Session.start(CTX, NEW, DATA, OP)
    take_scope(session, request(ttl=timedelta(minutes=5)), OP, holder=None, rival=None)
    assert session.expires_at == NOW + timedelta(minutes=5)


def test_a_ttl_past_year_9999_is_invalid_input() -> None:
    session = Session.start(CTX, NEW, DATA, OP)
    with pytest.raises(SessionError) as caught:
        take_scope(session, request(ttl=timedelta.max), OP, holder=None, rival=None)
    assert caught.value.code is ErrorCode.INVALID_INPUT


def test_a_free_scope_passes_ensure_scope_free() -> None:
    ensure_scope_free("old", held=False)


def test_a_held_scope_fails_ensure_scope_free_naming_its_holder() -> None:
    with pytest.raises(SessionError) as caught:
        ensure_scope_free("old", held=True)
    assert caught.value.code is ErrorCode.CONFLICT
    assert caught.value.message.startswith("session old already waits on this scope; ")
