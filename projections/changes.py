"""Read-model changes: what one committed write does to the read models.

Backends turn each change into a statement of their own; the changes say *what*, never
*how*. A claim that meets another owner is a concurrency conflict: the write is retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from greentic_session.domain.session_search import RecordedStatus
from greentic_session.domain.state import SessionState


@dataclass(frozen=True, slots=True)
class PutState:
    """Upsert the key's current-state row (also a tombstone when `data is None`)."""

    state: SessionState


@dataclass(frozen=True, slots=True)
class ClaimScope:
    """Point a free scope key at this session; fails if another session holds it."""

    scope_key: str
    session_key: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReleaseScope:
    """Free the scope key, but only if it still points at this session."""

    scope_key: str
    session_key: str


@dataclass(frozen=True, slots=True)
class AddUserWait:
    """Put the session among the user's waits, placed by the log position of the event that
    registered it (stream version `version`): the latest registration comes last."""

    user_key: str
    session_key: str
    expires_at: datetime | None
    version: int


@dataclass(frozen=True, slots=True)
class DropUserWait:
    user_key: str
    session_key: str


@dataclass(frozen=True, slots=True)
class RecordHead:
    """Not a projection: the stream's head (last version and hash), the anchor that shows a
    deleted tail or a whole deleted stream. Written with the events, never rebuilt."""

    session_key: str
    version: int
    hash: str


@dataclass(frozen=True, slots=True)
class RecordScopeEvent:
    """Add to a scope's history an event that registered, moved away, superseded, cleared,
    expired or removed a wait on it: what `explain` reads instead of the whole log.

    `near_miss`: on registrations only, the key `explain` finds the same scope registered
    under other lookup keys by (`rules.near_miss_key`). `position`: the event's log
    position when known (a rebuild); else the backend looks it up by stream and version."""

    scope_key: str
    session_key: str
    version: int
    kind: str
    recorded_at: datetime
    near_miss: str | None
    position: int | None = None


@dataclass(frozen=True, slots=True)
class IndexedSession:
    """A row of the session index, what `find_sessions` pages over: a key's last life, who
    it belongs to, its conversation, what the log says of it, and when it last changed."""

    session_key: str
    env: str
    tenant: str
    team: str | None
    user: str | None
    flow: str | None
    conversation: str | None
    status: RecordedStatus
    waiting: bool
    version: int
    updated_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class IndexSession:
    """Upsert the key's session-index row. `keep_conversation`: the session neither has
    nor had a wait in this write, so the row keeps the conversation it holds (its last
    wait's); the backend merges, without reading the row first."""

    row: IndexedSession
    keep_conversation: bool = False


@dataclass(frozen=True, slots=True)
class ForgetSession:
    """Delete what the read models derived from the key's erased events: its session-index
    row and its scope-history rows (its state row becomes the erasure's, ended)."""

    session_key: str


@dataclass(frozen=True, slots=True)
class RedactEvent:
    """Not a projection: overwrite the stored payload of the key's event at `version` with
    `state`, the stored form of its redacted payload (`event_shape.redacted_payload`),
    in the write that appends the erasure. Only the log's owner may."""

    session_key: str
    version: int
    state: bytes


Change = (
    PutState
    | ForgetSession
    | RedactEvent
    | IndexSession
    | ClaimScope
    | ReleaseScope
    | AddUserWait
    | DropUserWait
    | RecordHead
    | RecordScopeEvent
)


def _phase(change: Change) -> int:
    if isinstance(change, PutState):
        return 0
    if isinstance(change, ReleaseScope | DropUserWait):
        return 1
    if isinstance(change, ClaimScope | AddUserWait):
        return 2
    return 3


def row_of(change: Change) -> tuple[str, str]:
    """The read-model row a change writes."""
    if isinstance(change, PutState):
        return ("state", change.state.session_key)
    if isinstance(change, RecordHead):
        return ("head", change.session_key)
    if isinstance(change, IndexSession):
        return ("session index", change.row.session_key)
    if isinstance(change, ClaimScope | ReleaseScope):
        return ("scope", change.scope_key)
    if isinstance(change, RecordScopeEvent):
        return ("scope history", f"{change.scope_key}/{change.session_key}/{change.version}")
    if isinstance(change, ForgetSession):
        return ("forgotten", change.session_key)
    if isinstance(change, RedactEvent):
        return ("event", f"{change.session_key}/{change.version}")
    return ("waits", f"{change.user_key}/{change.session_key}")


def in_apply_order(changes: list[Change]) -> list[Change]:
    """State rows first (a rebuild's lock on them then holds a write off before it holds any
    other row); releases before claims, so a takeover frees the scope before the new owner
    claims it; within a phase by row, so concurrent writers lock shared rows in one order."""
    return sorted(changes, key=lambda change: (_phase(change), row_of(change)))
