"""The read models and the in-memory implementation of them.

`ReadModelReader` is what the store reads through on every backend. `MemoryReadModels`
holds them in dicts: the memory backend uses it directly, and a replay can be compared
with any backend's tables through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from greentic_session.domain.rules import is_expired
from greentic_session.domain.session import SessionData
from greentic_session.domain.state import SessionState
from greentic_session.projections.changes import (
    AddUserWait,
    Change,
    ClaimScope,
    DropUserWait,
    PutState,
    RecordHead,
    ReleaseScope,
)


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
        ...

    def load_all(self) -> MemoryReadModels:
        """Every row of every read model, and the heads (reads the whole store)."""
        ...


class ScopeTaken(Exception):
    """A claim met a scope held by another session: a concurrent write won; retry."""


class MemoryReadModels:
    """Current state, scope index and user waits as dicts (insertion order = list order).

    `heads` rides along but is not a read model: it is the anchor the store records with
    each write. A replay derives it from the log; equality ignores it; a rebuild keeps the
    stored one, so tampering stays evident after a rebuild.
    """

    def __init__(self) -> None:
        self.states: dict[str, SessionState] = {}
        self.scopes: dict[str, WaitEntry] = {}
        self.waits: dict[str, dict[str, WaitEntry]] = {}
        self.heads: dict[str, StreamHead] = {}

    def __eq__(self, other: object) -> bool:
        """Equal rows, and each user's waits in the same order (heads aside)."""
        if not isinstance(other, MemoryReadModels):
            return NotImplemented
        return (
            self.states == other.states
            and self.scopes == other.scopes
            and {k: list(v.items()) for k, v in self.waits.items()}
            == {k: list(v.items()) for k, v in other.waits.items()}
        )

    __hash__ = None  # type: ignore[assignment]

    def load_all(self) -> MemoryReadModels:
        copy = MemoryReadModels()
        copy.states = dict(self.states)
        copy.scopes = dict(self.scopes)
        copy.waits = {user: dict(waits) for user, waits in self.waits.items()}
        copy.heads = dict(self.heads)
        return copy

    def replace_projections(self, rebuilt: MemoryReadModels) -> None:
        """Take `rebuilt`'s read models, keep the heads."""
        self.states, self.scopes, self.waits = rebuilt.states, rebuilt.scopes, rebuilt.waits

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

    def check(self, changes: Iterable[Change]) -> None:
        """Raise `ScopeTaken` before anything changes if a claim would fail."""
        changes = list(changes)
        released = {(c.scope_key, c.session_key) for c in changes if isinstance(c, ReleaseScope)}
        for change in changes:
            if isinstance(change, ClaimScope):
                holder = self.scopes.get(change.scope_key)
                if holder is not None and (change.scope_key, holder.session_key) not in released:
                    raise ScopeTaken(change.scope_key)

    def apply(self, changes: Iterable[Change]) -> None:
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
            elif isinstance(change, RecordHead):
                self.heads[change.session_key] = StreamHead(change.version, change.hash)
            elif isinstance(change, DropUserWait):
                waits = self.waits.get(change.user_key, {})
                waits.pop(change.session_key, None)
                if not waits:
                    self.waits.pop(change.user_key, None)
