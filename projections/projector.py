"""How a session's events change the read models.

The current-state row is the session's state after the events; the scope index and the
user's waits follow the session's wait: the old wait's entries are released, the new
one's claimed. A fresh `register_wait` on the same scope re-claims, which moves the key
to the end of the user's waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from greentic_session.domain.aggregate import Session
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
from greentic_session.projections.read_models import MemoryReadModels, WaitEntry


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


def pending_changes(before: SessionState | None, session: Session) -> list[Change]:
    """The changes of a session's pending (not yet saved) events, in one step."""
    pending = session.pending_events
    if not pending:
        return []
    registered = any(isinstance(event, Session.WaitRegistered) for event in pending)
    head = RecordHead(session.session_key, session.version, session.head_hash)
    return [*changes_for(before, session.state(), registered), head]


def replay(events: Iterable[Session.Event | Session.Created]) -> Iterator[Change]:
    """The changes of a whole log, event by event in log order (a rebuild from scratch)."""
    sessions: dict[object, Session] = {}
    for event in events:
        current = sessions.get(event.originator_id)
        before = current.state() if current is not None else None
        mutated = event.mutate(current)
        assert isinstance(mutated, Session)
        sessions[event.originator_id] = mutated
        yield from changes_for(before, mutated.state(), isinstance(event, Session.WaitRegistered))
        yield RecordHead(mutated.session_key, mutated.version, mutated.head_hash)


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
    if heads:
        changes += [RecordHead(key, h.version, h.hash) for key, h in models.heads.items()]
    return changes
