"""Why a reply did or did not find its paused session: a point-in-time scope index.

The events are replayed up to the instant asked about, so the answer holds for any past
moment; on the way, every event about the scope is put into words. The store feeds only
the streams its scope history names (see `ScopeReplay`), not the whole log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import ArchivedStream, Explanation
from greentic_session.domain.identifiers import SessionKey, UserId
from greentic_session.domain.instants import instant_text
from greentic_session.domain.rules import is_expired, lookup_identity, scope_key, user_key
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.state import Wait
from greentic_session.domain.tenant import TenantCtx
from greentic_session.projections.projector import changes_for
from greentic_session.projections.read_models import MemoryReadModels
from greentic_session.projections.replay import ended_at
from greentic_session.projections.stream_history import LoggedEvent

_ENDINGS = {
    Session.WaitCleared: "was cleared",
    Session.WaitExpired: "expired",
    Session.Removed: "was removed",
}


def explain(
    events: Iterable[LoggedEvent],
    ctx: TenantCtx,
    user_id: UserId,
    scope: ReplyScope,
    at: datetime,
    tombstones: Iterable[ArchivedStream] = (),
) -> Explanation:
    """The explanation from `events`: the whole log, or (see `ScopeReplay`) the streams of
    the sessions the scope's history names, which give the same answer; archived streams
    start from their `tombstones`."""
    replay = ScopeReplay(ctx, user_id, scope, at)
    replay.resume(tombstones)
    replay.feed(events)
    return replay.explanation()


class ScopeReplay:
    """The scope index replayed up to `at`, and every event about the scope in words.

    Only the sessions that registered a wait on the scope change its entry or its trail;
    the near misses (the same scope registered under other keys in the caller's env and
    tenant) are named only when no session ever held the scope (`needs_near_misses`).
    So feeding the streams of those sessions alone, in log order, explains as the whole
    log does."""

    def __init__(self, ctx: TenantCtx, user_id: UserId, scope: ReplyScope, at: datetime) -> None:
        self._ctx, self._user_id, self._scope, self._at = ctx, user_id, scope, at
        self._target = scope_key(ctx, user_id, scope)
        self._index = MemoryReadModels()
        self._sessions: dict[UUID, Session] = {}
        self._trail: list[str] = []
        self._ended = self._registration = ""
        self._elsewhere: list[str] = []

    def resume(self, tombstones: Iterable[ArchivedStream]) -> None:
        """Archived streams start where their tombstones leave them: ended."""
        for tombstone in tombstones:
            restored = Session.restore(ended_at(tombstone))
            self._sessions[restored.id] = restored

    def feed(self, events: Iterable[LoggedEvent]) -> None:
        """Events in log order; those recorded after `at` are skipped."""
        target, scope = self._target, self._scope
        for _, event in events:
            if event.timestamp > self._at:
                continue
            current = self._sessions.get(event.originator_id)
            before = None if current is None else current.state()
            session = event.mutate(current)
            assert isinstance(session, Session)
            self._sessions[event.originator_id] = session
            registered = isinstance(event, Session.WaitRegistered)
            self._index.apply(changes_for(before, session.state(), registered))
            old_wait = None if before is None else before.wait
            line = _about(event, session, old_wait, target)
            if line:
                self._trail.append(line)
                holds = session.wait is not None and session.wait.scope_key == target
                if holds:
                    self._registration, self._ended = line, ""
                else:
                    self._ended = line
            elif (
                registered
                and session.wait
                and session.wait.scope.scope_hash() == scope.scope_hash()
                and _same_tenant(session, self._ctx)
            ):
                self._elsewhere.append(_registered_elsewhere(event, session, session.wait))

    def needs_near_misses(self) -> bool:
        """The reason would name near misses, if there were any: nothing held the scope."""
        return self._index.scopes.get(self._target) is None and not self._ended

    def explanation(self) -> Explanation:
        index, target, at = self._index, self._target, self._at
        identity = _identity(self._ctx, self._user_id)
        return Explanation(
            at=at,
            user_key=user_key(self._ctx, self._user_id),
            scope_key=target,
            scope_hash=self._scope.scope_hash(),
            session_key=_found(index, target, at),
            reason=_reason(
                index, target, at, self._registration, self._ended, self._elsewhere, identity
            ),
            trail=self._trail,
        )


def _same_tenant(session: Session, ctx: TenantCtx) -> bool:
    """Near misses are named only inside the caller's own env and tenant, never across."""
    stored = session.data.tenant_ctx if session.data is not None else None
    return stored is not None and (stored.env, stored.tenant_id) == (ctx.env, ctx.tenant_id)


def _about(event: Session.Event, session: Session, old: Wait | None, target: str) -> str:
    """The event in words if it concerns the target scope, else ''."""
    when = f"{instant_text(event.timestamp)}: {session.session_key} (v{event.originator_version})"
    new = session.wait
    if isinstance(event, Session.WaitRegistered) and new and new.scope_key == target:
        deadline = session.expires_at
        until = "" if deadline is None else f", until {instant_text(deadline)}"
        return f"{when} registered a wait on this scope{until}"
    if old is None or old.scope_key != target:
        return ""
    if isinstance(event, Session.WaitSuperseded):
        return f"{when} was superseded by {event.by_session_key}"
    if isinstance(event, Session.WaitExpired):
        return f"{when} expired (its deadline was {instant_text(event.deadline)})"
    if isinstance(event, Session.WaitRegistered):
        return f"{when} moved its wait to another scope"
    ending = _ENDINGS.get(type(event))
    return f"{when} {ending}" if ending else ""


def _found(index: MemoryReadModels, target: str, at: datetime) -> SessionKey | None:
    entry = index.scopes.get(target)
    if entry is None or is_expired(entry.expires_at, at):
        return None
    return SessionKey(entry.session_key)


def _reason(
    index: MemoryReadModels,
    target: str,
    at: datetime,
    registration: str,
    ended: str,
    elsewhere: list[str],
    identity: str,
) -> str:
    entry = index.scopes.get(target)
    if entry is not None and not is_expired(entry.expires_at, at):
        took_over = f"; {ended}" if ended else ""  # the session it took the scope from
        return f"{entry.session_key} held this scope: {registration}{took_over}"
    if entry is not None and entry.expires_at is not None:
        return (
            f"the wait of {entry.session_key} had expired at {instant_text(entry.expires_at)}"
        )
    if ended:
        return f"no session waited on this scope: {ended}"
    if elsewhere:
        return (
            f"never registered under {identity}; the same scope was registered under "
            f"other keys (the stored tenant/team/user differ): {'; '.join(elsewhere)}"
        )
    return f"never registered: no wait on this scope under {identity} up to {instant_text(at)}"


def _registered_elsewhere(event: Session.Event, session: Session, wait: Wait) -> str:
    assert session.data is not None
    identity = _identity(session.data.tenant_ctx, wait.user_id)
    return f"{session.session_key} (v{event.originator_version}) under {identity}"


def _identity(ctx: TenantCtx, user_id: str) -> str:
    env, tenant, team, user = lookup_identity(ctx, user_id)
    return f"env={env} tenant={tenant} team={team or '-'} user={user}"
