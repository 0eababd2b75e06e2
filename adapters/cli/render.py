"""The audit models as people read them: tables and labelled fields (JSON is `--json`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from greentic_session.adapters.cli.output import add_row, fields, table, when
from greentic_session.domain.audit import Explanation, SessionDiff, SessionEvent, VerifyReport
from greentic_session.domain.json_text import pretty_json
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.stored_session import StoredSession

HISTORY_COLUMNS = (
    "v",
    "pos",
    "recorded (UTC)",
    "event",
    "actor / trace",
    "flow / node",
    "scope",
    "expires",
    "hash",
)
WAIT_COLUMNS = ("session", "flow", "node", "wait reason", "expires")


def history(key: str, events: Sequence[SessionEvent]) -> Table:
    title = f"history of {key}: {len(events)} events"
    grid = table(title, HISTORY_COLUMNS, whole=("v", "pos", "recorded (UTC)", "expires", "hash"))
    for e in events:
        event = e.type.value + (f" by {e.superseded_by}" if e.superseded_by else "")
        if e.erased:
            event = f"{e.type.value} (erased)"
        elif e.erased_events is not None:
            event = f"erased {e.erased_events} events: {e.erasure_reason}"
        if e.archive_digest:
            event = (
                f"v1..v{e.version} archived ({e.archived_events} events, {e.archive_digest[:12]})"
            )
        actor = f"{e.actor or '-'} / {e.trace_id or '-'}"
        flow = "-" if e.data is None else f"{e.data.flow_id} / {e.data.cursor.node_pointer}"
        scope = scope_text(e.scope)
        expires = when(e.expires_at) if e.expires_at else None
        cells = (when(e.recorded_at), event, actor, flow, scope, expires, e.hash[:12])
        add_row(grid, e.version, e.position, *cells)
    return grid


def scope_text(scope: ReplyScope | None) -> str:
    if scope is None:
        return "-"
    text = scope.conversation + (f"/{scope.thread}" if scope.thread else "")
    text += f" reply-to={scope.reply_to}" if scope.reply_to else ""
    return text + (f" correlation={scope.correlation}" if scope.correlation else "")


def session(
    key: str, data: SessionData, where: str, state: Sequence[tuple[str, str]] = ()
) -> RenderableType:
    """`state`: what the store keeps beside the data (version, deadline, wait), if shown."""
    ctx = data.tenant_ctx
    return fields(
        [
            ("session", f"{key} ({where})"),
            *state,
            ("flow", data.flow_id + (f" (pack {data.pack_id})" if data.pack_id else "")),
            ("node", data.cursor.node_pointer),
            ("wait reason", data.cursor.wait_reason or "-"),
            ("outbox marker", data.cursor.outbox_marker or "-"),
            ("tenant", f"env={ctx.env} tenant={ctx.tenant_id} team={ctx.team_id or '-'}"),
            ("user", ctx.user_id or "-"),
            ("context", pretty_json(data.context_json)),
        ]
    )


def live_session(stored: StoredSession) -> RenderableType:
    """The live session with its version (what `--version` and `expected_version` take)."""
    wait = stored.wait
    waits_on = "-"
    if wait is not None:
        waits_on = f"{scope_text(wait.scope)} for {wait.user_id} (since v{wait.registered_version})"
    state = [
        ("version", str(stored.version)),
        ("expires", when(stored.expires_at)),
        ("waits on", waits_on),
    ]
    return session(stored.session_key, stored.data, "now", state)


def diff(result: SessionDiff) -> RenderableType:
    title = f"{result.session_key}: v{result.from_version} -> v{result.to_version}"
    if not result.changes and not result.context_patch and not result.context_diff:
        return Text(f"{title}: no differences")
    grid = table(title, ("field", "before", "after"))
    for change in result.changes:
        add_row(grid, change.field, _compact(change.before), _compact(change.after))
    parts: list[RenderableType] = [grid]
    if result.context_patch:
        patch = table("context_json (JSON Patch)", ("op", "path", "value"))
        for op in result.context_patch:
            add_row(patch, op.get("op"), op.get("path"), _compact(op.get("value", op.get("from"))))
        parts.append(patch)
    if result.context_diff:
        parts.append(Text(result.context_diff))
    return Group(*parts)


WaitRow = tuple[str, SessionData | None, datetime | None]
"""A waiting session's key, its data (None: ended since listed) and its deadline."""


def wait_rows(rows: Sequence[WaitRow]) -> list[dict[str, Any]]:
    """The table's fields, for `--json` (None where the table shows `-`; the deadline
    written as every other JSON time)."""
    out: list[dict[str, Any]] = []
    for key, data, expires in rows:
        cursor = None if data is None else data.cursor
        out.append(
            {
                "session_key": key,
                "flow_id": None if data is None else data.flow_id,
                "node_pointer": None if cursor is None else cursor.node_pointer,
                "wait_reason": None if cursor is None else cursor.wait_reason,
                "expires_at": to_jsonable_python(expires),
                "live": data is not None,
            }
        )
    return out


def waits(user: str, rows: Sequence[WaitRow]) -> RenderableType:
    if not rows:
        return Text(f"{user} has no waits")
    grid = table(f"waits of {user}, oldest registration first", WAIT_COLUMNS, whole=["expires"])
    for key, data, expires in rows:
        if data is None:
            add_row(grid, key, None, None, "(ended since listed)", None)
        else:
            cursor = data.cursor
            deadline = when(expires) if expires else None
            add_row(grid, key, data.flow_id, cursor.node_pointer, cursor.wait_reason, deadline)
    return grid


def explanation(result: Explanation, scope: ReplyScope, user: str) -> RenderableType:
    found = result.session_key or "nothing (the reply goes to the default handler)"
    summary = fields(
        [
            ("reply", f"from {user} in {scope_text(scope)} at {when(result.at)}"),
            ("resumes", Text(found, style="green" if result.session_key else "yellow")),
            ("because", result.reason),
        ]
    )
    trail = Text("\n".join(f"  {line}" for line in result.trail) or "  (nothing)")
    return Group(summary, Text("events about this scope:", style="bold"), trail)


def report(result: VerifyReport) -> RenderableType:
    checked = f"{result.streams} streams, {result.events} events checked"
    archived = [
        Text(f"  {archive.streams} streams archived (archive digest {archive.digest})")
        for archive in result.archived
    ]
    archived += erasures(result)
    if result.ok:
        return Group(Text(f"verify: ok ({checked})", style="green"), *archived)
    head = Text(f"verify: {len(result.problems)} problems ({checked})", style="bold red")
    problems = (Text(f"  - {problem}", style="red") for problem in result.problems)
    return Group(head, *problems, *archived)


SHOWN_ERASURES = 20


def erasures(result: VerifyReport) -> list[Text]:
    """The last `SHOWN_ERASURES` erasures, one line each (`--json` has them all)."""
    if not result.erasures:
        return []
    lines = [Text(f"  erasures ({len(result.erasures)}):")]
    hidden = len(result.erasures) - SHOWN_ERASURES
    if hidden > 0:
        lines.append(Text(f"    ({hidden} earlier ones: see --json)"))
    for erasure in result.erasures[-SHOWN_ERASURES:]:
        who = erasure.erased_by or "-"
        lines.append(
            Text(
                f"    {erasure.session_key} v{erasure.version}: {erasure.events} events erased "
                f"{when(erasure.erased_at)} by {who}: {erasure.reason}"
            )
        )
    if result.unchecked_erased:
        lines.append(
            Text(
                f"  {result.unchecked_erased} erased events of 0.1.0: their links were "
                "followed, their hashes cannot be recomputed"
            )
        )
    return lines


def _compact(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
