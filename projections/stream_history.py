"""A stream's events as the audit sees them: each with the session right after it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import ArchivedStream, EventType, SessionEvent
from greentic_session.domain.errors import invalid_input
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
    events: Iterable[LoggedEvent],
    window: HistoryWindow | None = None,
    tombstones: Sequence[ArchivedStream] = (),
) -> list[SessionEvent]:
    """An `archived` entry for each stretch of the stream that went to an archive, then
    the events still in the log; those in `window` only (default: all, oldest first). The
    events before the window are folded (each event says the session after it), not
    described."""
    window = window or HistoryWindow()
    described = [archived_entry(t) for t in tombstones if window.holds_version(t.last_version)]
    described += [
        describe(*step) for step in fold(events, resumed(tombstones)) if window.holds(step[1])
    ]
    if window.reverse:
        described.reverse()
    return described if window.limit is None else described[: window.limit]


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """A slice of a stream by version: from `from_version` up (down, with `reverse`; by
    default from the first, or the last), at most `limit` events."""

    from_version: int | None = None
    limit: int | None = None
    reverse: bool = False

    @classmethod
    def of(cls, from_version: object, limit: object, reverse: object) -> HistoryWindow:
        """Raises `SessionError(invalid_input)` for a version or limit below 1."""
        for name, value in (("from_version", from_version), ("limit", limit)):
            if value is not None and (type(value) is not int or value < 1):
                raise invalid_input(f"{name} must be a whole number of 1 or more; got {value!r}")
        if not isinstance(reverse, bool):
            raise invalid_input(f"reverse must be a bool, got {type(reverse).__name__}")
        return cls(from_version, limit, reverse)  # type: ignore[arg-type]

    @property
    def up_to(self) -> int | None:
        """The last version the window needs read (None: to the stream's end)."""
        if self.reverse:
            return self.from_version
        if self.limit is None:
            return None
        return (self.from_version or 1) + self.limit - 1

    def holds(self, event: Session.Event) -> bool:
        return self.holds_version(event.originator_version)

    def holds_version(self, version: int) -> bool:
        if self.from_version is None:
            return True
        return version <= self.from_version if self.reverse else version >= self.from_version


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
    """The wait events name their wait: the one registered, or the one that ended. An
    erased event says only what it was, when, and its hashes."""
    if isinstance(event, Session.Redacted):
        return SessionEvent(
            session_key=session.session_key,
            version=event.originator_version,
            position=position,
            type=EventType(event.original.kind),
            recorded_at=event.timestamp,
            data=None,
            hash=event.hash,
            prev_hash=event.prev_hash,
            erased=True,
        )
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
        erasure_reason=event.reason if isinstance(event, Session.Erased) else None,
        erased_events=event.events if isinstance(event, Session.Erased) else None,
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


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which events a follower of the log wants: of one tenant, user or session (None: any).
    An event belongs to whom its session belonged to (its data after it, or before it for
    an event that ended the life)."""

    tenant: str | None = None
    user: str | None = None
    session: str | None = None

    def takes(self, key: str, data: SessionData | None) -> bool:
        if self.session is not None and key != self.session:
            return False
        ctx = None if data is None else data.tenant_ctx
        if self.tenant is not None and (ctx is None or str(ctx.tenant_id) != self.tenant):
            return False
        return self.user is None or (ctx is not None and ctx.normalized_user == self.user)


def described_at(
    events: Iterable[LoggedEvent],
    positions: set[int],
    wanted: LogFilter,
    tombstones: Sequence[ArchivedStream] = (),
) -> list[SessionEvent]:
    """The events of one stream (read from its start, or from its last tombstone) at
    `positions`, described, those `wanted` takes: the ones before them are folded, not
    described."""
    out: list[SessionEvent] = []
    data_before: SessionData | None = None
    for position, event, session, wait_before in fold(events, resumed(tombstones)):
        owner = session.data if session.data is not None else data_before
        if position in positions and wanted.takes(session.session_key, owner):
            out.append(describe(position, event, session, wait_before))
        data_before = session.data
    return out
