"""A live session as the store holds it: its data, its stream version, expiry and wait.

What `read_session` answers with. A runtime that updates with `expected_version` reads
the version here, in one indexed lookup, instead of replaying the session's history.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from greentic_session.domain.identifiers import SessionKey, UserId
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.state import SessionState


class StoredWait(BaseModel):
    """Where a waiting session is routed from: the user and scope it registered with.

    The public face of the store's wait: the lookup digests it is indexed under stay
    internal (they are derived from the caller's context and may change form)."""

    model_config = ConfigDict(frozen=True)

    user_id: UserId
    scope: ReplyScope
    expires_at: AwareDatetime | None
    """Its deadline (None: it waits until cleared, removed or superseded)."""
    registered_version: int
    """The stream version of the `wait_registered` event that made it (in `history`)."""


class StoredSession(BaseModel):
    """A live session, with the stream version that `update_session(expected_version=…)`
    compares with."""

    model_config = ConfigDict(frozen=True)

    session_key: SessionKey
    data: SessionData
    version: int
    """The version of the last event of the key's stream (every event counts, across all
    the key's lives): pass it as `expected_version` to update only if nothing came since."""
    expires_at: AwareDatetime | None
    """The session's deadline (None: none). A superseded session keeps it, without a wait."""
    wait: StoredWait | None
    """The wait it holds now; None when it is not waiting (never parked, or superseded)."""

    @classmethod
    def of(cls, state: SessionState) -> StoredSession | None:
        """The public form of a stream's state; None when it holds no session (ended)."""
        if state.data is None:
            return None
        wait = state.wait
        return cls(
            session_key=state.session_key,
            data=state.data,
            version=state.version,
            expires_at=state.expires_at,
            wait=None
            if wait is None
            else StoredWait(
                user_id=UserId(wait.user_id),
                scope=wait.scope,
                expires_at=state.expires_at,
                registered_version=wait.version,
            ),
        )
