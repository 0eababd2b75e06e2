"""Rebuild every read model from the log alone: the proof that the indices are derived data.

A replay holds what the read models hold, the state of each session and the live waits,
and nothing of the log itself: fed the log an event at a time, its memory grows with the
number of sessions, never with the number of events.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from greentic_session.domain.aggregate import Session, key_named, opens_stream
from greentic_session.domain.audit import ArchivedStream
from greentic_session.domain.state import SessionState, stream_id
from greentic_session.projections.changes import Change, PutState, RecordHead
from greentic_session.projections.projector import changes_for, scope_events
from greentic_session.projections.read_models import MemoryReadModels
from greentic_session.projections.session_index import ERASING, index_change


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
        lifeless = after.data is None and (before is None or before.data is None)
        if lifeless and not isinstance(event, ERASING):  # only an erasure may follow no life
            raise Unreplayable(
                f"v{event.originator_version}: {type(event).__qualname__} follows no life "
                "(its session's data was removed)"
            )
        changes.append(index_change(before, after, event))
        if self._heads:
            changes.append(RecordHead(after.session_key, after.version, after.head_hash))
        self.models.apply(changes)
        self._keys[event.originator_id] = after.session_key
        if after.wait is None:
            self._wait_positions.pop(after.session_key, None)
        elif registered and position is not None:
            self._wait_positions[after.session_key] = position

    def resume(self, tombstone: ArchivedStream) -> None:
        """Seed an archived stream: an ended session at the tombstone's version and hash,
        which is what its state was when its events went out (its next event follows it).
        Raises `Unreplayable` if the stream was already replayed past it."""
        key = str(tombstone.session_key)
        before = self.models.states.get(key)
        if before is not None and before.version > tombstone.last_version:
            raise Unreplayable(
                f"{key}: archived up to v{tombstone.last_version} after v{before.version}"
            )
        state = ended_at(tombstone)
        changes: list[Change] = [PutState(state)]
        if self._heads:
            changes.append(RecordHead(key, state.version, state.head_hash))
        self.models.apply(changes)
        self._keys[state.originator_id] = key

    def wait_position(self, session_key: str) -> int | None:
        """The log position of the event that registered the session's wait (when the
        events were applied with their positions)."""
        return self._wait_positions.get(session_key)


def ended_at(tombstone: ArchivedStream) -> SessionState:
    """The state an archived stream was left in: ended, at its last archived version."""
    return SessionState(
        session_key=tombstone.session_key,
        version=tombstone.last_version,
        head_hash=tombstone.last_hash,
    )


def _next_session(before: SessionState | None, event: Session.Event) -> Session:
    version = 0 if before is None else before.version
    if event.originator_version != version + 1:
        raise Unreplayable(f"v{event.originator_version} cannot follow v{version}")
    if (before is None) != opens_stream(event):
        raise Unreplayable(
            f"v{event.originator_version}: a stream starts with one Created event, "
            f"not {type(event).__qualname__}"
        )
    named = key_named(event)
    if named is not None and stream_id(named) != event.originator_id:
        raise Unreplayable(
            f"v{event.originator_version} names session {named!r}, whose stream is another"
        )
    if named is not None and before is not None and before.session_key != named:
        raise Unreplayable(
            f"v{event.originator_version} names session {named!r}, not {before.session_key!r}"
        )
    current = None if before is None else Session.restore(before)
    try:
        mutated = event.mutate(current)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise Unreplayable(f"v{event.originator_version}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(mutated, Session):
        raise Unreplayable(f"v{event.originator_version} does not make a session")
    return mutated


Replayed = Session.Event | ArchivedStream
"""What a replay is fed: events, and the tombstones of archived streams before them."""


def rebuild(events: Iterable[Replayed]) -> MemoryReadModels:
    """The read models a fresh store would hold after these events (and tombstones), in
    log order (with the heads; the scope-history rows without positions: a store appending
    the events assigns them). Raises `Unreplayable` for an event that cannot follow its
    stream's last one."""
    return rebuild_logged((None, event) for event in events)


def rebuild_logged(
    events: Iterable[tuple[int | None, Replayed]],
    tombstones: Iterable[ArchivedStream] = (),
) -> MemoryReadModels:
    """`rebuild` of events read from a log, each with its position, which the scope
    history keeps; the archived streams seeded from `tombstones` first."""
    replay = Replay(heads=True)
    for tombstone in tombstones:
        replay.resume(tombstone)
    for position, event in events:
        if isinstance(event, ArchivedStream):
            replay.resume(event)
        else:
            replay.apply(event, position)
    return replay.models
