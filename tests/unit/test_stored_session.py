"""`StoredSession`, what `read_session` answers: the public form of a stream's state."""

from __future__ import annotations

from datetime import UTC, datetime

from greentic_session import ReplyScope, SessionKey, StoredSession, StoredWait
from greentic_session.domain.state import SessionState, Wait
from tests.support import make_ctx, make_data

DEADLINE = datetime(2030, 1, 1, tzinfo=UTC)
CTX = make_ctx(user="alice")
SCOPE = ReplyScope(conversation="chat-1", thread="t")
WAIT = Wait(user_key="u" * 64, scope_key="s" * 64, user_id="alice", scope=SCOPE, version=2)


def test_a_waiting_state_shows_its_wait_without_the_lookup_digests() -> None:
    state = SessionState(SessionKey("k"), 3, make_data(CTX), DEADLINE, WAIT, head_hash="h")

    stored = StoredSession.of(state)

    assert stored == StoredSession(
        session_key="k",
        data=make_data(CTX),
        version=3,
        expires_at=DEADLINE,
        wait=StoredWait(user_id="alice", scope=SCOPE, expires_at=DEADLINE, registered_version=2),
    )
    assert "u" * 64 not in stored.model_dump_json()


def test_a_state_without_data_is_no_stored_session() -> None:
    assert StoredSession.of(SessionState(SessionKey("k"), 4)) is None


def test_a_stored_session_round_trips_through_json() -> None:
    stored = StoredSession.of(SessionState(SessionKey("k"), 3, make_data(CTX), DEADLINE, WAIT))
    assert stored is not None
    assert StoredSession.model_validate_json(stored.model_dump_json()) == stored
