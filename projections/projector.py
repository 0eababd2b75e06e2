"""How a session's events change the read models.

The current-state row is the session's state after the events; the scope index and the
user's waits follow the session's wait: the old wait's entries are released, the new
one's claimed. A fresh `register_wait` on the same scope re-claims, which moves the key
to the end of the user's waits. Each event that begins or ends a wait adds a row to that
scope's history.
"""

from __future__ import annotations

from greentic_session.domain.aggregate import Session
from greentic_session.domain.rules import near_miss_key
from greentic_session.domain.state import SessionState, Wait
from greentic_session.projections.changes import (
    AddUserWait,
    Change,
    ClaimScope,
    DropUserWait,
    IndexSession,
    PutState,
    RecordHead,
    RecordScopeEvent,
    ReleaseScope,
)
from greentic_session.projections.read_models import MemoryReadModels, WaitEntry
from greentic_session.projections.session_index import index_change

_WAIT_ENDINGS: dict[type[Session.Event], str] = {
    Session.WaitSuperseded: Session.WaitSuperseded.kind,
    Session.WaitCleared: Session.WaitCleared.kind,
    Session.WaitExpired: Session.WaitExpired.kind,
    Session.Removed: Session.Removed.kind,
}
_WAIT_EVENTS: tuple[type[Session.Event], ...] = (Session.WaitRegistered, *_WAIT_ENDINGS)
MOVED = "wait_moved"
"""The kind of a registration elsewhere, in the history of the scope it left."""


def changes_for(before: SessionState | None, after: SessionState, registered: bool) -> list[Change]:
    """The changes that take the read models from `before` to `after` for one session."""
    key = after.session_key
    old = before.wait if before is not None else None
    new = after.wait
    moved = registered or old != new
    changes: list[Change] = []
    if old is not None and moved:
        changes.append(ReleaseScope(old.scope_key, key))
        if new is None or new.user_key != old.user_key:  # else the new entry replaces it
            changes.append(DropUserWait(old.user_key, key))
    if new is not None and moved:
        changes += [
            ClaimScope(new.scope_key, key, after.expires_at),
            AddUserWait(new.user_key, key, after.expires_at, new.version),
        ]
    changes.append(PutState(after))
    return changes


def scope_events(
    event: Session.Event, before: Wait | None, after: Session, position: int | None
) -> list[RecordScopeEvent]:
    """The scope-history rows of one event: `before` is the session's wait before it,
    `after` the session after it. A registration is a row of its scope (and of the scope
    it moved the wait away from); an ending, of the scope its wait was on."""

    def row(scope_key: str, kind: str, near_miss: str | None = None) -> RecordScopeEvent:
        return RecordScopeEvent(
            scope_key,
            after.session_key,
            event.originator_version,
            kind,
            event.timestamp,
            near_miss,
            position,
        )

    new = after.wait
    if isinstance(event, Session.WaitRegistered) and new is not None:
        rows = [] if before is None or before.scope_key == new.scope_key else [
            row(before.scope_key, MOVED)
        ]
        stored = after.data.tenant_ctx if after.data is not None else None
        near_miss = None if stored is None else near_miss_key(
            str(stored.env), str(stored.tenant_id), new.scope.scope_hash()
        )
        return [*rows, row(new.scope_key, event.kind, near_miss)]
    ending = _WAIT_ENDINGS.get(type(event))
    if ending is None or before is None:
        return []
    return [row(before.scope_key, ending)]


def _pending_scope_events(
    before: SessionState | None, pending: list[Session.Event], after: Session
) -> list[Change]:
    """The pending events' scope-history rows. `after` is the session after them all; with
    several events, each is applied in turn to a copy of the session as it was (the rows
    need the wait between events, not only at the end)."""
    if not any(isinstance(event, _WAIT_EVENTS) for event in pending):
        return []
    if len(pending) == 1:
        return list(scope_events(pending[0], None if before is None else before.wait, after, None))
    current = None if before is None else Session.restore(before)
    rows: list[Change] = []
    for event in pending:
        wait = None if current is None else current.wait
        current = event.mutate(current)
        assert isinstance(current, Session)
        rows += scope_events(event, wait, current, None)
    return rows


def pending_changes(before: SessionState | None, session: Session) -> list[Change]:
    """The changes of a session's pending (not yet saved) events, in one step."""
    pending = session.pending_events
    if not pending:
        return []
    registered = any(isinstance(event, Session.WaitRegistered) for event in pending)
    head = RecordHead(session.session_key, session.version, session.head_hash)
    events = [event for event in pending if isinstance(event, Session.Event)]
    after = session.state()
    return [
        *changes_for(before, after, registered),
        index_change(before, after, events[-1]),
        *_pending_scope_events(before, events, session),
        head,
    ]


def _registered(models: MemoryReadModels, entry: WaitEntry) -> int:
    wait = models.states[entry.session_key].wait
    assert wait is not None, "a user wait without a wait in its session's state"
    return wait.version


def as_changes(models: MemoryReadModels, *, heads: bool) -> list[Change]:
    """Changes that fill empty read models (and the heads, if asked) with `models`."""
    changes: list[Change] = [PutState(state) for state in models.states.values()]
    changes += [
        ClaimScope(scope_key, entry.session_key, entry.expires_at)
        for scope_key, entry in models.scopes.items()
    ]
    changes += [
        AddUserWait(user_key, entry.session_key, entry.expires_at, _registered(models, entry))
        for user_key, waits in models.waits.items()
        for entry in waits.values()
    ]
    changes += [
        RecordScopeEvent(
            scope_key,
            row.session_key,
            row.version,
            row.kind,
            row.recorded_at,
            row.near_miss,
            row.position,
        )
        for scope_key, rows in models.scope_history.items()
        for row in rows.values()
    ]
    changes += [IndexSession(row) for row in models.sessions.values()]
    if heads:
        changes += [RecordHead(key, h.version, h.hash) for key, h in models.heads.items()]
    return changes
