"""A stream's events as the audit sees them: each with the session right after it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import ArchivedStream, EventType, SessionEvent
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.rules import is_live
from greentic_session.domain.session import SessionData
from greentic_session.domain.state import Wait
from greentic_session.projections.replay import ended_at

LoggedEvent = tuple[int, Session.Event]
"""An event and its position in the log."""

Step = tuple[int, Session.Event, Session, Wait | None]


def fold(events: Iterable[LoggedEvent], start: Session | None = None) -> Iterator[Step]:
    """Each event with the session after it and the wait it had before it; `start`: the
    session before the first event (an archived stream's, restored from its tombstone)."""
    session = start
    for position, event in events:
        wait_before = None if session is None else session.wait
        session = event.mutate(session)
        assert isinstance(session, Session)
        yield position, event, session, wait_before


def session_events(
    events: Iterable[LoggedEvent], tombstones: Sequence[ArchivedStream] = ()
) -> list[SessionEvent]:
    """An `archived` entry for each stretch of the stream that went to an archive, then
    the events still in the log."""
    notes = [archived_entry(t) for t in tombstones]
    return notes + [describe(*step) for step in fold(events, resumed(tombstones))]


def resumed(tombstones: Sequence[ArchivedStream]) -> Session | None:
    """The session an archived stream's next event applies to: ended, at the last
    tombstone's version and hash."""
    return Session.restore(ended_at(tombstones[-1])) if tombstones else None


def archived_entry(tombstone: ArchivedStream) -> SessionEvent:
    """A tombstone as a history entry: where the events up to its version went."""
    return SessionEvent(
        session_key=tombstone.session_key,
        version=tombstone.last_version,
        position=0,
        type=EventType.ARCHIVED,
        recorded_at=tombstone.archived_at,
        data=None,
        actor=tombstone.archived_by,
        hash=tombstone.last_hash,
        prev_hash="",
        archive_digest=tombstone.archive_digest,
        archived_events=tombstone.events,
    )


def describe(
    position: int, event: Session.Event, session: Session, wait_before: Wait | None
) -> SessionEvent:
    """The wait events name their wait: the one registered, or the one that ended."""
    wait = session.wait if isinstance(event, Session.WaitRegistered) else wait_before
    if isinstance(event, Session.Created | Session.Recreated | Session.Updated):
        wait = None
    expires_at = event.deadline if isinstance(event, Session.WaitExpired) else session.expires_at
    superseded_by = (
        SessionKey(event.by_session_key) if isinstance(event, Session.WaitSuperseded) else None
    )
    trace = event.trace
    return SessionEvent(
        session_key=session.session_key,
        version=event.originator_version,
        position=position,
        type=EventType(event.kind),
        recorded_at=event.timestamp,
        data=session.data,
        scope=None if wait is None else wait.scope,
        user_id=None if wait is None else wait.user_id,
        superseded_by=superseded_by,
        expires_at=expires_at,
        trace_id=trace.get("trace_id"),
        correlation_id=trace.get("correlation_id"),
        provider_id=trace.get("provider_id"),
        actor=trace.get("actor"),
        hash=event.hash,
        prev_hash=event.prev_hash,
    )


def data_at_version(
    events: Iterable[LoggedEvent], version: int, start: Session | None = None
) -> SessionData | None:
    """The session right after `version` (None if it had ended by then)."""
    found = None
    for _, event, session, _ in fold(events, start):
        if event.originator_version > version:
            break
        found = session.data
    return found


def data_at(
    events: Iterable[LoggedEvent], at: datetime, start: Session | None = None
) -> SessionData | None:
    """The session live at instant `at`, as the log tells it (None if not live then; an
    archived stream's archived lives are not in the log)."""
    data, expires_at = None, None
    for _, event, session, _ in fold(events, start):
        if event.timestamp > at:
            break
        data, expires_at = session.data, session.expires_at
    return data if is_live(data, expires_at, at) else None
