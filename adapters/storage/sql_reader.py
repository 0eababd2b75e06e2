"""Lookups over the SQL read-model tables, and rows back into read-model values."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from greentic_session.adapters.storage.encryption import ContentSealer
from greentic_session.adapters.storage.sql_tables import (
    KEY_INDEX_CHARS,
    SqlReadModels,
    from_micros,
    prefix_range,
    to_micros,
)
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.state import SessionState, Wait, stream_id
from greentic_session.projections.read_models import (
    MemoryReadModels,
    ScopeEvent,
    ScopeHistoryMissing,
    StoredData,
    StreamHead,
    WaitEntry,
)


class SqlReadModelReader(ABC):
    """The lookups over the read-model tables; a backend supplies only how to query."""

    def __init__(self, tables: SqlReadModels) -> None:
        self.tables = tables

    @abstractmethod
    def fetch(self, statement: str, params: tuple[Any, ...]) -> list[Sequence[Any]]:
        """Rows of one statement, outside any write transaction."""

    @abstractmethod
    def load_all(self) -> MemoryReadModels:
        """Every read model and the heads, from one consistent snapshot (`read_all`)."""

    def session_state(self, session_key: str) -> SessionState | None:
        rows = self.fetch(self.tables.select_state, (str(stream_id(session_key)),))
        return decode_state(session_key, rows[0], self.tables.sealer) if rows else None

    def session_data(self, session_key: str) -> StoredData | None:
        rows = self.fetch(self.tables.select_data, (str(stream_id(session_key)),))
        if not rows:
            return None
        data, expires_at = rows[0]
        if data is not None:
            data = SessionData.model_validate_json(self.tables.sealer.unseal(data))
        return data, from_micros(expires_at)

    def scope_entry(self, scope_key: str) -> WaitEntry | None:
        rows = self.fetch(self.tables.select_scope, (scope_key,))
        return decode_entry(rows[0]) if rows else None

    def user_waits(self, user_key: str) -> list[WaitEntry]:
        return [decode_entry(row) for row in self.fetch(self.tables.select_waits, (user_key,))]

    def due_sessions(self, now: datetime) -> list[str]:
        return [row[0] for row in self.fetch(self.tables.select_due, (to_micros(now),))]

    def keys_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """One range scan of the heads' key index (every key ever written is there)."""
        head_low, head_high = prefix_range(prefix[:KEY_INDEX_CHARS])
        low, high = prefix_range(prefix)
        params: list[object] = [head_low]
        if head_high is not None:
            params.append(head_high)
        params.append(low)
        if high is not None:
            params.append(high)
        statement = self.tables.select_keys[head_high is not None, high is not None]
        return [row[0] for row in self.fetch(statement, (*params, limit))]
    def scope_events(self, scope_key: str, at: datetime) -> list[ScopeEvent]:
        return self._history(self.tables.select_scope_events, scope_key, at)

    def near_misses(self, near_miss: str, at: datetime) -> list[ScopeEvent]:
        return self._history(self.tables.select_near_misses, near_miss, at)

    def _history(self, statement: str, key: str, at: datetime) -> list[ScopeEvent]:
        if not self.tables.scope_history_ready:
            raise ScopeHistoryMissing(self.tables.scope_history_table)
        return [decode_scope_event(row) for row in self.fetch(statement, (key, to_micros(at)))]


class RowCursor(Protocol):
    """What `read_all` needs of a cursor: psycopg's and the library's SQLite one both fit."""

    def execute(self, statement: str, /) -> object: ...

    def fetchall(self) -> Any: ...


def read_all(cursor: RowCursor, tables: SqlReadModels) -> MemoryReadModels:
    """Every read model and the heads, read on `cursor` inside the caller's snapshot."""
    rows = []
    for statement in tables.select_all:
        cursor.execute(statement)
        rows.append(cursor.fetchall())
    states, scopes, waits, heads, *history = rows
    models = decode_all(tables.sealer, states, scopes, waits, heads)
    models.has_scope_history = tables.scope_history_ready
    for scope_key, *row in history[0] if history else []:
        event = decode_scope_event(row)
        models.scope_history.setdefault(scope_key, {})[(event.session_key, event.version)] = event
    return models


def decode_state(session_key: str, row: Sequence[Any], sealer: ContentSealer) -> SessionState:
    (version, data, expires_at, wait_user_key, wait_scope_key, wait_user_id, wait_scope) = row[:7]
    wait_version, head = row[7:]
    wait = None
    if wait_scope_key is not None:
        wait = Wait(
            user_key=wait_user_key,
            scope_key=wait_scope_key,
            user_id=sealer.unseal(wait_user_id),
            scope=ReplyScope.model_validate_json(sealer.unseal(wait_scope)),
            version=wait_version,
        )
    return SessionState(
        session_key=SessionKey(session_key),
        version=version,
        data=None if data is None else SessionData.model_validate_json(sealer.unseal(data)),
        expires_at=from_micros(expires_at),
        wait=wait,
        head_hash=head,
    )


def decode_entry(row: Sequence[Any]) -> WaitEntry:
    return WaitEntry(session_key=row[0], expires_at=from_micros(row[1]))


def decode_scope_event(row: Sequence[Any]) -> ScopeEvent:
    session_key, version, kind, recorded_at, near_miss, position = row
    moment = from_micros(recorded_at)
    assert moment is not None, "recorded_at is NOT NULL"
    return ScopeEvent(session_key, version, kind, moment, near_miss, position)


def decode_all(
    sealer: ContentSealer,
    states: Iterable[Sequence[Any]],
    scopes: Iterable[Sequence[Any]],
    waits: Iterable[Sequence[Any]],
    heads: Iterable[Sequence[Any]],
) -> MemoryReadModels:
    """Rows of the `select_all` statements as in-memory read models."""
    models = MemoryReadModels()
    for session_key, version, hash_ in heads:
        models.heads[session_key] = StreamHead(version, hash_)
    for row in states:
        models.states[row[0]] = decode_state(row[0], row[1:], sealer)
    for scope_key, *entry in scopes:
        models.scopes[scope_key] = decode_entry(entry)
    for user_key, *entry in waits:
        wait = decode_entry(entry)
        models.waits.setdefault(user_key, {})[wait.session_key] = wait
    return models
