"""What changed between two versions of a session: fields, wait, and the context snapshot."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import jsonpatch

from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import FieldChange, SessionDiff
from greentic_session.domain.errors import invalid_input
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.instants import instant_text
from greentic_session.domain.session import SessionData
from greentic_session.domain.state import Wait
from greentic_session.projections.stream_history import LoggedEvent, fold

Snapshot = tuple[SessionData | None, Wait | None, datetime | None]


def diff(
    key: SessionKey,
    events: Iterable[LoggedEvent],
    v1: int,
    v2: int,
    start: Session | None = None,
) -> SessionDiff:
    """`start`: the session before the first event (an archived stream's)."""
    snapshots: dict[int, Snapshot] = {}
    for _, event, session, _ in fold(events, start):
        if event.originator_version in (v1, v2):
            snapshots[event.originator_version] = (session.data, session.wait, session.expires_at)
    for version in (v1, v2):
        if version not in snapshots:
            raise invalid_input(f"{key} has no version {version}; see its history")
    before, after = snapshots[v1], snapshots[v2]
    patch, text = _context_change(before[0], after[0])
    return SessionDiff(
        session_key=key,
        from_version=v1,
        to_version=v2,
        changes=[
            FieldChange(field=name, before=old, after=new)
            for name, old, new in zip(_FIELDS, _fields(before), _fields(after), strict=True)
            if old != new
        ],
        context_patch=patch,
        context_diff=text,
    )


_FIELDS = (
    "live",
    "flow_id",
    "pack_id",
    "cursor.node_pointer",
    "cursor.wait_reason",
    "cursor.outbox_marker",
    "tenant_ctx",
    "wait.scope",
    "wait.user_id",
    "expires_at",
)


def _fields(snapshot: Snapshot) -> tuple[Any, ...]:
    data, wait, expires_at = snapshot
    return (
        data is not None,
        data and data.flow_id,
        data and data.pack_id,
        data and data.cursor.node_pointer,
        data and data.cursor.wait_reason,
        data and data.cursor.outbox_marker,
        data and data.tenant_ctx.model_dump(mode="json"),
        wait and wait.scope.model_dump(mode="json"),
        wait and wait.user_id,
        expires_at and instant_text(expires_at),
    )


def _context_change(
    before: SessionData | None, after: SessionData | None
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """A JSON Patch when both sides are JSON; a unified text diff otherwise."""
    old = "" if before is None else before.context_json
    new = "" if after is None else after.context_json
    if old == new:
        return None, None
    try:
        patch = jsonpatch.make_patch(json.loads(old), json.loads(new))
        return list(patch.patch), None
    except ValueError:
        lines = difflib.unified_diff(
            old.splitlines(), new.splitlines(), "before", "after", lineterm=""
        )
        return None, "\n".join(lines)
