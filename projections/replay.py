"""Rebuild every read model from the log alone: the proof that the indices are derived data.

A replay holds what the read models hold, the state of each session and the live waits,
and nothing of the log itself: fed the log an event at a time, its memory grows with the
number of sessions, never with the number of events.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from greentic_session.domain.aggregate import Session
from greentic_session.domain.state import SessionState, stream_id
from greentic_session.projections.changes import Change, RecordHead
from greentic_session.projections.projector import changes_for, scope_events
from greentic_session.projections.read_models import MemoryReadModels
from greentic_session.projections.session_index import index_change


class Unreplayable(ValueError):
    """An event that cannot be the next one of its stream: the log was edited."""


class Replay:
    """The read models after the events fed to `apply`, in log order.

    Each session is kept as its state row (the aggregate is restored from it for its next
    event, as a write does), so a replay costs a state per session and no more."""

    def __init__(self, *, heads: bool = False) -> None:
        """`heads`: keep each stream's head too (an import writes them; a rebuild keeps
        the stored ones)."""
        self.models = MemoryReadModels()
        self._heads = heads
        self._keys: dict[UUID, str] = {}
        self._wait_positions: dict[str, int] = {}

    def apply(self, event: Session.Event, position: int | None = None) -> None:
        """Raises `Unreplayable` (nothing changes) for an event that cannot follow its
        stream's last one: a first event that is not `Created`, a second `Created`, a
        version out of sequence, or anything the event's own change refuses."""
        key = self._keys.get(event.originator_id)
        before = None if key is None else self.models.states[key]
        session = _next_session(before, event)
        after = session.state()
        registered = isinstance(event, Session.WaitRegistered)
        changes: list[Change] = changes_for(before, after, registered)
        wait_before = None if before is None else before.wait
        changes += scope_events(event, wait_before, session, position)
        changes.append(index_change(before, after, event))
        if self._heads:
            changes.append(RecordHead(after.session_key, after.version, after.head_hash))
        self.models.apply(changes)
        self._keys[event.originator_id] = after.session_key
        if after.wait is None:
            self._wait_positions.pop(after.session_key, None)
        elif registered and position is not None:
            self._wait_positions[after.session_key] = position

    def wait_position(self, session_key: str) -> int | None:
        """The log position of the event that registered the session's wait (when the
        events were applied with their positions)."""
        return self._wait_positions.get(session_key)


def _next_session(before: SessionState | None, event: Session.Event) -> Session:
    version = 0 if before is None else before.version
    if event.originator_version != version + 1:
        raise Unreplayable(f"v{event.originator_version} cannot follow v{version}")
    if (before is None) != isinstance(event, Session.Created):
        raise Unreplayable(
            f"v{event.originator_version}: a stream starts with one Created event, "
            f"not {type(event).__qualname__}"
        )
    if isinstance(event, Session.Created) and stream_id(event.session_key) != event.originator_id:
        raise Unreplayable(f"v1 names session {event.session_key!r}, whose stream is another")
    current = None if before is None else Session.restore(before)
    try:
        mutated = event.mutate(current)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise Unreplayable(f"v{event.originator_version}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(mutated, Session):
        raise Unreplayable(f"v{event.originator_version} does not make a session")
    return mutated


def rebuild(events: Iterable[Session.Event | Session.Created]) -> MemoryReadModels:
    """The read models a fresh store would hold after these events, in log order (with the
    heads; the scope-history rows without positions: a store appending the events assigns
    them). Raises `Unreplayable` for an event that cannot follow its stream's last one."""
    return rebuild_logged((None, event) for event in events)


def rebuild_logged(events: Iterable[tuple[int | None, Session.Event]]) -> MemoryReadModels:
    """`rebuild` of events read from a log, each with its position, which the scope
    history keeps."""
    replay = Replay(heads=True)
    for position, event in events:
        replay.apply(event, position)
    return replay.models
