"""The session index as a table, `gs_session_index`: the statements that write it, the
paged query `find_sessions` runs on it, and its rows read back.

The filter columns hold each identifier as the sealer's lookup form: the text itself, or
on an encrypted store a keyed digest (`ContentSealer.lookup`), so exact filters work and
no identifier is stored in clear; what a summary shows comes from the sealed `display`
and `conversation_display` (JSON, so any character fits) columns. Each filter has an
index ending in (updated_at, stream_id), so a page of any one filter is one backward
range scan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from greentic_session.adapters.storage.encryption import ContentSealer
from greentic_session.domain.session_search import SessionQuery, micros
from greentic_session.domain.state import stream_id
from greentic_session.projections.changes import IndexedSession, IndexSession
from greentic_session.projections.read_model_rows import Value, index_value
from greentic_session.projections.session_index import cursor_position

SESSION_INDEX_TABLE = "gs_session_index"
FILTERS = ("env", "tenant", "team", "user", "flow", "conversation")
"""The identifiers filtered on; each is a column (`user` is `user_id`) and a lookup field."""
_COLUMN = {"user": "user_id"}
INDEXED = ("tenant", "user", "conversation", "flow")
_STATES = {
    "waiting": "status = 'live' AND waiting = 1 AND (expires_at IS NULL OR expires_at > ?)",
    "live": "status = 'live' AND (expires_at IS NULL OR expires_at > ?)",
    "ended": "status = 'ended'",
    "expired": "(status = 'expired' OR (status = 'live' AND expires_at <= ?))",
    "any": "",
}
"""`domain.session_search.summary_state`, as conditions on the row and the instant `?`."""

Statement = tuple[str, tuple[Any, ...]]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def column(field: str) -> str:
    return _COLUMN.get(field, field)


class SqlSessionIndex:
    """`ready` is False while the store has no such table (made before it, opened by a role
    that may not create it): its rows are then not written, and `find_sessions` refuses."""

    shown = (
        "session_key, display, conversation_display, status, waiting, version, "
        "updated_at, expires_at"
    )
    """The columns a summary is made of (`decode_indexed`)."""
    audit_columns = (
        "stream_id, session_key, env, tenant, team, user_id, flow, conversation, "
        "display, conversation_display, status, waiting, version, updated_at, expires_at"
    )
    """Every column, the key (stream id, session key) first, for `verify`."""

    def __init__(self, sql: Callable[[str], str], code_point_order: str) -> None:
        self._sql = sql
        self._stream = f"stream_id{code_point_order}"  # Python's order, as the memory backend's
        self.ready = True
        self.table = sql(f"{{q}}{SESSION_INDEX_TABLE}")
        by = f"updated_at, {self._stream}"  # ties by stream id: see `session_index.position`
        self.create = [
            sql(
                f"CREATE TABLE {{q}}{SESSION_INDEX_TABLE} ("
                "stream_id TEXT PRIMARY KEY, session_key TEXT NOT NULL, env TEXT NOT NULL, "
                "tenant TEXT NOT NULL, team TEXT, user_id TEXT, flow TEXT NOT NULL, "
                "conversation TEXT, display TEXT NOT NULL, conversation_display TEXT, "
                "status TEXT NOT NULL, waiting INTEGER NOT NULL, version BIGINT NOT NULL, "
                "updated_at BIGINT NOT NULL, expires_at BIGINT)"
            ),
            sql(f"CREATE INDEX gs_session_index_by_update ON {{q}}{SESSION_INDEX_TABLE} ({by})"),
            *(
                sql(
                    f"CREATE INDEX gs_session_index_by_{field} "
                    f"ON {{q}}{SESSION_INDEX_TABLE} ({column(field)}, {by})"
                )
                for field in INDEXED
            ),
        ]
        names = "stream_id, session_key, " + ", ".join(column(f) for f in FILTERS)
        names += ", display, conversation_display, status, waiting, version, updated_at, expires_at"
        updated = [name for name in names.split(", ") if name != "stream_id"]
        kept = ("conversation", "conversation_display")

        def upsert(columns: list[str]) -> str:
            sets = ", ".join(f"{name} = excluded.{name}" for name in columns)
            return sql(
                f"INSERT INTO {{q}}{SESSION_INDEX_TABLE} ({names}) VALUES "
                f"({', '.join(['?'] * 15)}) ON CONFLICT (stream_id) DO UPDATE SET {sets}"
            )

        self._put = upsert(updated)
        self._put_keeping = upsert([name for name in updated if name not in kept])
        self.select_all = sql(f"SELECT {self.shown} FROM {{q}}{SESSION_INDEX_TABLE}")

    def statement(self, change: IndexSession, sealer: ContentSealer) -> Statement:
        row = change.row
        lookups = [
            None if value is None else lookup(sealer, field, value)
            for field, value in zip(FILTERS, identifiers(row), strict=True)
        ]
        display = json.dumps(identifiers(row)[:5])
        values = (
            str(stream_id(row.session_key)),
            row.session_key,
            *lookups,
            sealer.seal(display),
            None if row.conversation is None else sealer.seal(json.dumps(row.conversation)),
            row.status,
            int(row.waiting),
            row.version,
            micros(row.updated_at),
            None if row.expires_at is None else micros(row.expires_at),
        )
        return (self._put_keeping if change.keep_conversation else self._put), values

    def query(self, query: SessionQuery, now: datetime, sealer: ContentSealer) -> Statement:
        """The page's statement: `limit + 1` rows, newest first, after the cursor."""
        where: list[str] = []
        params: list[Any] = []
        for field in FILTERS:
            value = getattr(query, field)
            if value is not None:
                where.append(f"{column(field)} = ?")
                params.append(lookup(sealer, field, value))
        if _STATES[query.state]:
            where.append(_STATES[query.state])
            params += [micros(now)] * _STATES[query.state].count("?")
        if query.updated_since is not None:
            where.append("updated_at >= ?")
            params.append(micros(query.updated_since))
        if query.updated_before is not None:
            where.append("updated_at < ?")
            params.append(micros(query.updated_before))
        if query.after is not None:
            # The row comparison is the cursor; the plain bound beside it is implied by it,
            # but lets PostgreSQL's planner estimate the range (it guesses a handful of rows
            # for a row comparison, and then sorts a bitmap scan instead of paging).
            where.append(f"updated_at <= ? AND (updated_at, {self._stream}) < (?, ?)")
            updated_at, stream = cursor_position(query.after)
            params += [updated_at, updated_at, stream]
        text = f"SELECT {self.shown} FROM {{q}}{SESSION_INDEX_TABLE}"
        if where:
            text += " WHERE " + " AND ".join(where)
        text += f" ORDER BY updated_at DESC, {self._stream} DESC LIMIT ?"
        return self._sql(text), (*params, query.limit + 1)


def lookup(sealer: ContentSealer, field: str, value: str) -> str:
    """The filter column's form of a value: the sealer's lookup form (the text, or a keyed
    digest), of a digest for a conversation, which is free text of any length and any
    character (an index entry holds at most 2,704 bytes on PostgreSQL, and no NUL)."""
    if field == "conversation":
        value = "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return sealer.lookup(field, value)


def identifiers(row: IndexedSession) -> list[str | None]:
    """The row's identifiers in the order of `FILTERS`."""
    return [row.env, row.tenant, row.team, row.user, row.flow, row.conversation]


def decode_indexed(row: Sequence[Any], sealer: ContentSealer) -> IndexedSession:
    """A row of `SqlSessionIndex.shown`, its display columns unsealed."""
    key, display, conversation, status, waiting, version, updated_at, expires_at = row
    env, tenant, team, user, flow = json.loads(sealer.unseal(display))
    return IndexedSession(
        session_key=key,
        env=env,
        tenant=tenant,
        team=team,
        user=user,
        flow=flow,
        conversation=None if conversation is None else json.loads(sealer.unseal(conversation)),
        status=status,
        waiting=bool(waiting),
        version=version,
        updated_at=_instant(updated_at),
        expires_at=None if expires_at is None else _instant(expires_at),
    )


def audit_value(row: Sequence[Any], sealer: ContentSealer) -> Value:
    """A row's value for `verify` (`read_model_rows.index_value`): the filter columns
    must be the lookup form of what the display columns hold, else it is damaged."""
    lookups, shown = row[: len(FILTERS)], row[len(FILTERS) :]
    indexed = decode_indexed(("", *shown), sealer)
    for field, stored, value in zip(FILTERS, lookups, identifiers(indexed), strict=True):
        if stored != (None if value is None else lookup(sealer, field, value)):
            raise ValueError(f"its {column(field)} column does not match what it shows")
    if type(indexed.version) is not int or indexed.status not in ("live", "ended", "expired"):
        raise ValueError(f"version {indexed.version!r}, status {indexed.status!r}")
    return index_value(indexed)


def _instant(value: object) -> datetime:
    if type(value) is not int:
        raise TypeError(f"{value!r} is not a whole number")
    return _EPOCH + timedelta(microseconds=value)
