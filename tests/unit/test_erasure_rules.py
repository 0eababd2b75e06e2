"""The erasure's rules in `domain/erasure.py`: what it erases of a stream, and its arguments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from greentic_session import ErrorCode, SessionError, SessionKey, UserId
from greentic_session.domain.aggregate import Session
from greentic_session.domain.erasure import ErasureSubject, reason_arg, to_erase
from greentic_session.domain.operation import Operation
from tests.support import make_ctx, make_data, make_scope

CTX = make_ctx(user="alice")


def _stream() -> Session:
    op = Operation(datetime(2026, 1, 1, tzinfo=UTC))
    session = Session.start(CTX, SessionKey("k"), make_data(CTX), op)
    session.update(make_data(CTX, node="n2"), op)
    return session


def test_a_stream_never_erased_is_erased_whole() -> None:
    events = list(_stream().collect_events())
    assert to_erase(events) == events  # type: ignore[arg-type]


def test_only_the_events_after_the_last_erasure_are_erased_again() -> None:
    session = _stream()
    op = Operation(datetime(2026, 1, 2, tzinfo=UTC))
    session.erase(2, "first", op)
    scope = make_scope("chat")
    session.register_wait(
        CTX, UserId("alice"), scope, make_data(CTX), None, op, user_key="u", scope_key="s"
    )
    events = list(session.collect_events())
    assert to_erase(events) == events[3:]  # type: ignore[arg-type]
    assert to_erase(events[:3]) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("reason", ["", "  ", "x" * 1001, "a\\x00b"])
def test_a_reason_must_say_why_in_at_most_1000_characters(reason: str) -> None:
    with pytest.raises(SessionError) as caught:
        reason_arg(reason.replace("\\x00", "\x00"))
    assert caught.value.code is ErrorCode.INVALID_INPUT


def test_a_subject_is_a_session_or_an_env_and_a_tenant() -> None:
    assert ErasureSubject.of(session="k").session == "k"
    query = ErasureSubject.of(env="prod", tenant="acme", user="alice").query
    assert query is not None and (query.env, query.tenant, query.user) == ("prod", "acme", "alice")
    for wrong in ({}, {"tenant": "acme"}, {"session": "k", "env": "prod"}):
        with pytest.raises(SessionError) as caught:
            ErasureSubject.of(**wrong)
        assert caught.value.code is ErrorCode.INVALID_INPUT
