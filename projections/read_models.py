"""The read models and the in-memory implementation of them.

`ReadModelReader` is what the store reads through on every backend. `MemoryReadModels`
holds them in dicts: the memory backend uses it directly, and a replay can be compared
with any backend's tables through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from greentic_session.domain.rules import is_expired
from greentic_session.domain.session import SessionData
from greentic_session.domain.session_search import SessionQuery
from greentic_session.domain.state import SessionState, stream_id
from greentic_session.projections.changes import (
    AddUserWait,
    Change,
    ClaimScope,
    DropUserWait,
    ForgetSession,
    IndexedSession,
    IndexSession,
    PutState,
    RecordHead,
    RecordScopeEvent,
    ReleaseScope,
)
from greentic_session.projections.session_index import matches, merged, position


@dataclass(frozen=True, slots=True)
class WaitEntry:
    """A scope-index or user-waits entry: which session, and until when."""

    session_key: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class StreamHead:
    """A stream's last version and the hash of its last event, as recorded by the store."""

    version: int
    hash: str


@dataclass(frozen=True, slots=True)
class ScopeEvent:
    """A row of a scope's history: one event that began or ended a wait on the scope.

    `kind`: the event's kind (`wait_registered`, `wait_superseded`, `wait_cleared`,
    `wait_expired`, `removed`), or `wait_moved` for a registration elsewhere that ended the
    wait on this scope. `near_miss`: see `RecordScopeEvent`."""

    session_key: str
    version: int
    kind: str
    recorded_at: datetime
    near_miss: str | None
    position: int | None


ScopeHistory = dict[str, dict[tuple[str, int], ScopeEvent]]
"""Scope key -> (session key, version) -> row, each scope's rows in log order."""

StoredData = tuple[SessionData | None, datetime | None]


class ReadModelReader(Protocol):
    """Indexed lookups: each one costs the same however many sessions the store holds."""

    def session_state(self, session_key: str) -> SessionState | None: ...

    def session_data(self, session_key: str) -> StoredData | None:
        """Only what `get_session` needs: the data and its deadline, not the wait."""
        ...

    def scope_entry(self, scope_key: str) -> WaitEntry | None: ...

    def user_waits(self, user_key: str) -> list[WaitEntry]: ...

    def due_sessions(self, now: datetime) -> list[str]:
        """Keys of live sessions whose deadline has passed with no expiry in the log yet."""
        ...

    def keys_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` keys ever written that start with `prefix`, in code-point order."""

    def scope_events(self, scope_key: str, at: datetime) -> list[ScopeEvent]:
        """The scope's history up to `at` (recorded at or before it), in log order.
        Raises `ScopeHistoryMissing` if the store has no scope history yet."""
        ...

    def near_misses(self, near_miss: str, at: datetime) -> list[ScopeEvent]:
        """Registrations up to `at` under this `near_miss` key, in log order. Raises
        `ScopeHistoryMissing` if the store has no scope history yet."""
        ...

    def find_sessions(self, query: SessionQuery, now: datetime) -> list[IndexedSession]:
        """Up to `query.limit + 1` session-index rows that match, newest first (ties by key,
        last first), after `query.after`: one more than a page shows whether another
        follows. Raises `SessionIndexMissing` if the store has no session index yet."""
        ...

    def load_all(self) -> MemoryReadModels:
        """Every row of every read model, and the heads (reads the whole store)."""
        ...


class ScopeTaken(Exception):
    """A claim met a scope held by another session: a concurrent write won; retry."""


class ScopeHistoryMissing(Exception):
    """A store made before the scope history existed, opened by a role that could not
    create it: whoever reads it must replay the log instead."""


class SessionIndexMissing(Exception):
    """A store made before the session index, opened by a role that could not create it."""


def in_log_order(rows: Iterable[ScopeEvent], at: datetime) -> list[ScopeEvent]:
    """The rows recorded at or before `at`, by log position."""
    return sorted((row for row in rows if row.recorded_at <= at), key=lambda row: row.position or 0)


class MemoryReadModels:
    """Current state, scope index, user waits and scope history as dicts (insertion order
    = list order).

    `heads` rides along but is not a read model: it is the anchor the store records with
    each write. A replay derives it from the log; equality ignores it; a rebuild keeps the
    stored one, so tampering stays evident after a rebuild. `has_scope_history` is False
    when the models were read from a store that has no scope history table yet.
    """

    def __init__(self) -> None:
        self.states: dict[str, SessionState] = {}
        self.scopes: dict[str, WaitEntry] = {}
        self.waits: dict[str, dict[str, WaitEntry]] = {}
        self.heads: dict[str, StreamHead] = {}
        self.scope_history: ScopeHistory = {}
        self.has_scope_history = True
        self.sessions: dict[str, IndexedSession] = {}
        self.has_session_index = True

    def __eq__(self, other: object) -> bool:
        """Equal rows, and each user's waits in the same order (heads aside)."""
        if not isinstance(other, MemoryReadModels):
            return NotImplemented
        return (
            self.states == other.states
            and self.scopes == other.scopes
            and {k: list(v.items()) for k, v in self.waits.items()}
            == {k: list(v.items()) for k, v in other.waits.items()}
            and self.scope_history == other.scope_history
            and self.sessions == other.sessions
        )

    __hash__ = None  # type: ignore[assignment]

    def load_all(self) -> MemoryReadModels:
        copy = MemoryReadModels()
        copy.states = dict(self.states)
        copy.scopes = dict(self.scopes)
        copy.waits = {user: dict(waits) for user, waits in self.waits.items()}
        copy.heads = dict(self.heads)
        copy.scope_history = {scope: dict(rows) for scope, rows in self.scope_history.items()}
        copy.sessions = dict(self.sessions)
        return copy

    def replace_projections(self, rebuilt: MemoryReadModels) -> None:
        """Take `rebuilt`'s read models, keep the heads."""
        self.states, self.scopes, self.waits = rebuilt.states, rebuilt.scopes, rebuilt.waits
        self.scope_history = rebuilt.scope_history
        self.sessions = rebuilt.sessions

    def session_state(self, session_key: str) -> SessionState | None:
        return self.states.get(session_key)

    def session_data(self, session_key: str) -> StoredData | None:
        state = self.states.get(session_key)
        return None if state is None else (state.data, state.expires_at)

    def scope_entry(self, scope_key: str) -> WaitEntry | None:
        return self.scopes.get(scope_key)

    def user_waits(self, user_key: str) -> list[WaitEntry]:
        return list(self.waits.get(user_key, {}).values())

    def due_sessions(self, now: datetime) -> list[str]:
        return [
            key
            for key, state in self.states.items()
            if state.data is not None and is_expired(state.expires_at, now)
        ]

    def keys_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """A scan of the heads: the memory backend holds a process's sessions only."""
        return sorted(key for key in self.heads if key.startswith(prefix))[:limit]

    def scope_events(self, scope_key: str, at: datetime) -> list[ScopeEvent]:
        return in_log_order(self.scope_history.get(scope_key, {}).values(), at)

    def near_misses(self, near_miss: str, at: datetime) -> list[ScopeEvent]:
        rows = (
            row
            for history in self.scope_history.values()
            for row in history.values()
            if row.near_miss == near_miss
        )
        return in_log_order(rows, at)

    def find_sessions(self, query: SessionQuery, now: datetime) -> list[IndexedSession]:
        """A sort of the index: the memory backend holds a process's sessions only."""
        found = (row for row in self.sessions.values() if matches(row, query, now))
        return sorted(found, key=position, reverse=True)[: query.limit + 1]

    def check(self, changes: Iterable[Change]) -> None:
        """Raise `ScopeTaken` before anything changes if a claim would fail."""
        changes = list(changes)
        released = {(c.scope_key, c.session_key) for c in changes if isinstance(c, ReleaseScope)}
        for change in changes:
            if isinstance(change, ClaimScope):
                holder = self.scopes.get(change.scope_key)
                if holder is not None and (change.scope_key, holder.session_key) not in released:
                    raise ScopeTaken(change.scope_key)

    def apply(
        self, changes: Iterable[Change], positions: Mapping[tuple[UUID, int], int] | None = None
    ) -> None:
        """`positions`: the log positions of the events just appended, by stream and version,
        for scope-history rows that do not carry theirs."""
        for change in changes:
            if isinstance(change, PutState):
                self.states[change.state.session_key] = change.state
            elif isinstance(change, ClaimScope):
                self.scopes[change.scope_key] = WaitEntry(change.session_key, change.expires_at)
            elif isinstance(change, ReleaseScope):
                holder = self.scopes.get(change.scope_key)
                if holder is not None and holder.session_key == change.session_key:
                    del self.scopes[change.scope_key]
            elif isinstance(change, AddUserWait):
                waits = self.waits.setdefault(change.user_key, {})
                waits.pop(change.session_key, None)
                waits[change.session_key] = WaitEntry(change.session_key, change.expires_at)
            elif isinstance(change, IndexSession):
                key = change.row.session_key
                self.sessions[key] = merged(self.sessions.get(key), change)
            elif isinstance(change, RecordHead):
                self.heads[change.session_key] = StreamHead(change.version, change.hash)
            elif isinstance(change, RecordScopeEvent):
                position = change.position
                if position is None and positions is not None:
                    position = positions.get((stream_id(change.session_key), change.version))
                self.scope_history.setdefault(change.scope_key, {})[
                    (change.session_key, change.version)
                ] = ScopeEvent(
                    change.session_key,
                    change.version,
                    change.kind,
                    change.recorded_at,
                    change.near_miss,
                    position,
                )
            elif isinstance(change, ForgetSession):
                self.forget(change.session_key)
            elif isinstance(change, DropUserWait):
                waits = self.waits.get(change.user_key, {})
                waits.pop(change.session_key, None)
                if not waits:
                    self.waits.pop(change.user_key, None)

    def forget(self, session_key: str) -> None:
        """Drop the key's session-index row and scope-history rows (archived or erased).

        A key with scope-history rows has an index row (every event but an erasure's
        indexes its key), so a key without one costs nothing: a replay forgets the key at
        each of its erased events, and never has rows to drop. One with one costs a pass
        over the scopes (memory:// only: the SQL backends delete by stream)."""
        if self.sessions.pop(session_key, None) is None:
            return
        history = self.scope_history
        for scope in list(history):
            rows = {k: v for k, v in history[scope].items() if v.session_key != session_key}
            if rows:
                history[scope] = rows
            else:
                del history[scope]
