"""The read-model lookups as statements and decoders, with no I/O: the sync readers
(SQLite, PostgreSQL) and the async PostgreSQL ports run the same statements and decode
the same rows, each with its own driver."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from greentic_session.adapters.storage.encryption import ContentSealer
from greentic_session.adapters.storage.sql_session_index import decode_indexed
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
from greentic_session.domain.session_search import SessionQuery
from greentic_session.domain.state import SessionState, Wait, stream_id
from greentic_session.projections.changes import IndexedSession
from greentic_session.projections.read_models import (
    ScopeEvent,
    ScopeHistoryMissing,
    SessionIndexMissing,
    StoredData,
    WaitEntry,
)

R = TypeVar("R")

Rows = list[Sequence[Any]]


@dataclass(frozen=True)
class Lookup(Generic[R]):
    """One statement, its parameters, and what its rows mean."""

    statement: str
    params: tuple[Any, ...]
    decode: Callable[[Rows], R]


class SqlLookups:
    """Each lookup of `ReadModelReader` as a `Lookup` over the read-model tables."""

    def __init__(self, tables: SqlReadModels) -> None:
        self.tables = tables

    def session_state(self, session_key: str) -> Lookup[SessionState | None]:
        sealer = self.tables.sealer
        return Lookup(
            self.tables.select_state,
            (str(stream_id(session_key)),),
            lambda rows: decode_state(session_key, rows[0], sealer) if rows else None,
        )

    def session_data(self, session_key: str) -> Lookup[StoredData | None]:
        sealer = self.tables.sealer

        def decode(rows: Rows) -> StoredData | None:
            if not rows:
                return None
            data, expires_at = rows[0]
            if data is not None:
                data = SessionData.model_validate_json(sealer.unseal(data))
            return data, from_micros(expires_at)

        return Lookup(self.tables.select_data, (str(stream_id(session_key)),), decode)

    def scope_entry(self, scope_key: str) -> Lookup[WaitEntry | None]:
        return Lookup(
            self.tables.select_scope,
            (scope_key,),
            lambda rows: decode_entry(rows[0]) if rows else None,
        )

    def user_waits(self, user_key: str) -> Lookup[list[WaitEntry]]:
        return Lookup(
            self.tables.select_waits, (user_key,), lambda rows: [decode_entry(r) for r in rows]
        )

    def due_sessions(self, now: datetime) -> Lookup[list[str]]:
        return Lookup(self.tables.select_due, (to_micros(now),), _first_column)

    def keys_with_prefix(self, prefix: str, limit: int) -> Lookup[list[str]]:
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
        return Lookup(statement, (*params, limit), _first_column)

    def scope_events(self, scope_key: str, at: datetime) -> Lookup[list[ScopeEvent]]:
        return self._history(self.tables.select_scope_events, scope_key, at)

    def near_misses(self, near_miss: str, at: datetime) -> Lookup[list[ScopeEvent]]:
        return self._history(self.tables.select_near_misses, near_miss, at)

    def find_sessions(self, query: SessionQuery, now: datetime) -> Lookup[list[IndexedSession]]:
        index = self.tables.session_index
        if not index.ready:
            raise SessionIndexMissing(index.table)
        sealer = self.tables.sealer
        statement, params = index.query(query, now, sealer)
        return Lookup(statement, params, lambda rows: [decode_indexed(r, sealer) for r in rows])

    def _history(self, statement: str, key: str, at: datetime) -> Lookup[list[ScopeEvent]]:
        if not self.tables.scope_history_ready:
            raise ScopeHistoryMissing(self.tables.scope_history_table)
        return Lookup(
            statement, (key, to_micros(at)), lambda rows: [decode_scope_event(r) for r in rows]
        )


def _first_column(rows: Rows) -> list[str]:
    return [row[0] for row in rows]


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
