"""One write operation: the sessions it loaded, what they were, and what they became."""

from __future__ import annotations

from datetime import datetime

from domain.aggregate import Session
from domain.identifiers import SessionKey
from domain.state import SessionState
from projections.changes import Change, in_apply_order
from projections.projector import pending_changes
from projections.read_models import ReadModelReader, WaitEntry


class UnitOfWork:
    """Loads aggregates from the state read model (never by replay) and collects changes."""

    def __init__(self, models: ReadModelReader, now: datetime) -> None:
        self.now = now
        self._models = models
        self._loaded: dict[str, tuple[SessionState | None, Session]] = {}

    def load(self, key: SessionKey) -> Session | None:
        """The key's aggregate, or None if the key never had a stream."""
        if key in self._loaded:
            return self._loaded[key][1]
        state = self._models.session_state(key)
        if state is None:
            return None
        session = Session.restore(state)
        self._loaded[key] = (state, session)
        return session

    def add(self, session: Session) -> None:
        """A new stream, started in this operation."""
        self._loaded[session.session_key] = (None, session)

    def scope_entry(self, scope_key: str) -> WaitEntry | None:
        return self._models.scope_entry(scope_key)

    def sessions(self) -> list[Session]:
        return [session for _, session in self._loaded.values() if session.pending_events]

    def changes(self) -> list[Change]:
        changes: list[Change] = []
        for before, session in self._loaded.values():
            changes += pending_changes(before, session)
        return in_apply_order(changes)

    def keep_only_expiries(self) -> None:
        """After a failed command: drop everything but expiries it met (facts, not effects)."""
        for key, (_, session) in list(self._loaded.items()):
            if not all(isinstance(e, Session.WaitExpired) for e in session.pending_events):
                del self._loaded[key]
