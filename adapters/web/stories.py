"""A session's history read as spans of time: its lives (created or reborn, until cleared,
expired or removed) and its waits (registered, until superseded, cleared, expired, moved
or removed), each with how it ended and who ended it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from greentic_session.domain.audit import EventType, SessionEvent

WAIT_ENDINGS = {
    EventType.WAIT_SUPERSEDED,
    EventType.WAIT_CLEARED,
    EventType.WAIT_EXPIRED,
    EventType.REMOVED,
    EventType.WAIT_REGISTERED,
}
"""The events after which a wait no longer holds its scope (a new registration moves it)."""


@dataclass(frozen=True)
class Band:
    start: datetime
    end: datetime | None
    """None: it still goes on."""
    label: str
    tip: str
    ending: str
    """The event type that ended it, `deadline passed` (expired, not recorded yet), or ''."""
    deadline: datetime | None = None


def lives_of(events: Sequence[SessionEvent], now: datetime) -> list[Band]:
    """Each life of the key: from the event that gave it data to the one that ended it."""
    lives: list[Band] = []
    start: SessionEvent | None = None
    for e in events:
        if start is None and e.data is not None:
            start = e
        elif start is not None and e.data is None:
            lives.append(_life(len(lives) + 1, start, e.recorded_at, e))
            start = None
    if start is not None:
        last = events[-1]
        due = last.expires_at is not None and last.expires_at <= now
        lives.append(_life(len(lives) + 1, start, last.expires_at if due else None, None))
    return lives


def _life(number: int, start: SessionEvent, end: datetime | None, by: SessionEvent | None) -> Band:
    if by is not None:
        ending = by.type.value
        how = f"ended by {ending} (v{by.version})" + (f" by {by.actor}" if by.actor else "")
    elif end is not None:
        ending, how = "deadline passed", "its deadline passed (the expiry is not recorded yet)"
    else:
        ending, how = "", "live"
    tip = f"life {number}: from v{start.version} {start.type.value}; {how}"
    return Band(start.recorded_at, end, f"life {number}", tip, ending)


def waits_of(events: Sequence[SessionEvent], now: datetime) -> list[Band]:
    """Each wait: from its registration to the event that took the scope from it, or its
    deadline when that passed with nothing recorded yet."""
    waits: list[Band] = []
    open_wait: SessionEvent | None = None
    deadline: datetime | None = None
    for e in events:
        if open_wait is not None and e.type in WAIT_ENDINGS:
            waits.append(_wait(open_wait, deadline, e.recorded_at, e))
            open_wait = None
        if e.type is EventType.WAIT_REGISTERED and not e.erased:
            open_wait, deadline = e, e.expires_at
        elif open_wait is not None and e.data is not None:
            deadline = e.expires_at
    if open_wait is not None:
        due = deadline is not None and deadline <= now
        waits.append(_wait(open_wait, deadline, deadline if due else None, None))
    return waits


def _wait(start: SessionEvent, deadline: datetime | None, end: datetime | None,
          by: SessionEvent | None) -> Band:
    scope = start.scope.conversation if start.scope else "?"
    if start.scope and start.scope.thread:
        scope += f"/{start.scope.thread}"
    label = f"{scope} for {start.user_id or '-'}"
    if by is None:
        ending = "deadline passed" if end is not None else ""
        how = "its deadline passed" if end is not None else "waiting"
    elif by.type is EventType.WAIT_SUPERSEDED:
        ending, how = by.type.value, f"superseded by {by.superseded_by}"
    elif by.type is EventType.WAIT_REGISTERED:
        ending, how = "moved", f"moved by v{by.version} to another registration"
    else:
        ending, how = by.type.value, f"ended by {by.type.value} (v{by.version})"
    until = f"; deadline {deadline.isoformat()}" if deadline else "; no deadline"
    tip = f"wait on {label} from v{start.version}{until}; {how}"
    return Band(start.recorded_at, end, label, tip, ending, deadline)
