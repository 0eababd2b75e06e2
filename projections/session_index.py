"""How a session's events change its row of the session index (`find_sessions`).

The row describes the key's last life: who it belongs to comes from its data, or, once
it ended, from the data it had before; its conversation from its wait, or the wait it had
before this write, or else the row keeps the one it holds. The log decides the status:
live, ended (cleared, removed) or expired (an expiry recorded).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from greentic_session.domain.aggregate import Session
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.session_search import (
    Cursor,
    RecordedStatus,
    SessionPage,
    SessionQuery,
    SessionSummary,
    matches_state,
    micros,
    summary_state,
)
from greentic_session.domain.state import SessionState, stream_id
from greentic_session.projections.changes import ForgetSession, IndexedSession, IndexSession

ERASING = (Session.Erased, Session.Redacted)
"""Events after which the key has no row: nothing is left to index it by."""


def index_change(
    before: SessionState | None, after: SessionState, last: Session.Event
) -> IndexSession | ForgetSession:
    """The row after `last`, the write's last event; `before`: the state before the write.
    An erasure forgets the row (and the key's scope history)."""
    if isinstance(last, ERASING):
        return ForgetSession(after.session_key)
    data = after.data if after.data is not None else before.data if before else None
    assert data is not None, "an event that ends a life follows one that began it"
    ctx = data.tenant_ctx
    wait = after.wait if after.wait is not None else before.wait if before else None
    status: RecordedStatus = "live"
    expires_at = after.expires_at
    if after.data is None:
        status = "expired" if isinstance(last, Session.WaitExpired) else "ended"
        expires_at = last.deadline if isinstance(last, Session.WaitExpired) else None
    row = IndexedSession(
        session_key=after.session_key,
        env=str(ctx.env),
        tenant=str(ctx.tenant_id),
        team=None if ctx.normalized_team is None else str(ctx.normalized_team),
        user=None if ctx.normalized_user is None else str(ctx.normalized_user),
        flow=str(data.flow_id),
        conversation=None if wait is None else wait.scope.conversation,
        status=status,
        waiting=after.data is not None and after.wait is not None,
        version=after.version,
        updated_at=last.timestamp,
        expires_at=expires_at,
    )
    return IndexSession(row, keep_conversation=wait is None)


def merged(stored: IndexedSession | None, change: IndexSession) -> IndexedSession:
    """The row a backend holds after `change`: the change's, keeping the stored
    conversation where the change says to."""
    if not change.keep_conversation or stored is None:
        return change.row
    return replace(change.row, conversation=stored.conversation)


def position(row: IndexedSession) -> tuple[int, str]:
    """Where a row stands in the index's order, which runs from the greatest position down:
    most recently updated first, ties by stream id (the greatest first), as the SQL
    backends' `ORDER BY updated_at DESC, stream_id DESC`. Not by key: a key may be
    kilobytes long, more than a btree index entry holds; a stream id is 36 characters."""
    return micros(row.updated_at), str(stream_id(row.session_key))


def cursor_position(after: Cursor) -> tuple[int, str]:
    """The position of the row a cursor names (the last of the page before)."""
    return after.updated_at, str(stream_id(after.session_key))


def summary_of(row: IndexedSession, now: datetime) -> SessionSummary:
    return SessionSummary(
        session_key=SessionKey(row.session_key),
        env=row.env,
        tenant=row.tenant,
        team=row.team,
        user=row.user,
        flow=row.flow,
        conversation=row.conversation,
        state=summary_state(row.status, row.waiting, row.expires_at, now),
        version=row.version,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
    )


def matches(row: IndexedSession, query: SessionQuery, now: datetime) -> bool:
    """The query's filters, on one row (the SQL backends say the same in their WHERE)."""
    wanted = (
        (query.env, row.env),
        (query.tenant, row.tenant),
        (query.team, row.team),
        (query.user, row.user),
        (query.flow, row.flow),
        (query.conversation, row.conversation),
    )
    if any(value is not None and value != held for value, held in wanted):
        return False
    state = summary_state(row.status, row.waiting, row.expires_at, now)
    if not matches_state(query.state, state):
        return False
    if query.updated_since is not None and row.updated_at < query.updated_since:
        return False
    if query.updated_before is not None and row.updated_at >= query.updated_before:
        return False
    after = query.after
    return after is None or position(row) < cursor_position(after)


def page_of(rows: list[IndexedSession], limit: int, now: datetime) -> SessionPage:
    """A page of the first `limit` rows; a next cursor when a row beyond them was read."""
    shown = rows[:limit]
    last = shown[-1] if len(rows) > limit else None
    cursor = None if last is None else Cursor(micros(last.updated_at), last.session_key).encode()
    return SessionPage(sessions=[summary_of(row, now) for row in shown], next=cursor)
