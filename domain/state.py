"""A session's current state: what the aggregate holds and the state read model stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from uuid import UUID, uuid5

from greentic_session.domain.chain import GENESIS
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.rules import is_live
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData

# Fixed forever: stream ids of existing logs are derived from it.
SESSION_STREAM_NAMESPACE = UUID("6f1d2b1e-8c3a-5d5e-9a41-3c9d7e0b2a10")


@lru_cache(maxsize=65536)
def stream_id(session_key: str) -> UUID:
    """One stream per key for the key's whole life, found again without any index."""
    return uuid5(SESSION_STREAM_NAMESPACE, session_key)


@dataclass(frozen=True, slots=True)
class Wait:
    """Where a paused session is routed from: the caller's lookup keys at registration."""

    user_key: str
    scope_key: str
    user_id: str
    scope: ReplyScope
    version: int
    """The stream version of the `WaitRegistered` event: the user's waits are listed in the
    log order of these events."""


@dataclass(frozen=True, slots=True)
class SessionState:
    """The stream's latest state; `data is None` means no live session (never, or ended)."""

    session_key: SessionKey
    version: int
    data: SessionData | None = None
    expires_at: datetime | None = None
    wait: Wait | None = None
    head_hash: str = GENESIS  # the hash of the stream's last event

    @property
    def originator_id(self) -> UUID:
        return stream_id(self.session_key)

    def is_live(self, now: datetime) -> bool:
        return is_live(self.data, self.expires_at, now)
