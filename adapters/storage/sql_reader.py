"""Lookups over the SQL read-model tables, and rows back into read-model values."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, Protocol, TypeVar

from greentic_session.adapters.storage.encryption import ContentSealer
from greentic_session.adapters.storage.sql_lookups import (
    Lookup,
    SqlLookups,
    decode_entry,
    decode_scope_event,
    decode_state,
)
from greentic_session.adapters.storage.sql_session_index import (
    SESSION_INDEX_TABLE,
    SqlSessionIndex,
    audit_value,
    decode_indexed,
)
from greentic_session.adapters.storage.sql_tables import (
    SCOPE_HISTORY_TABLE,
    SqlReadModels,
    from_micros,
)
from greentic_session.domain.session_search import SessionQuery
from greentic_session.domain.state import SessionState
from greentic_session.projections.changes import IndexedSession
from greentic_session.projections.projector import as_changes
from greentic_session.projections.read_model_rows import (
    HEADS,
    SCOPE_HISTORY,
    SCOPE_INDEX,
    SESSION_INDEX,
    SESSION_STATE,
    USER_WAITS,
    Key,
    ReadModelRows,
    StoredRow,
    UnreadableRow,
    Value,
)
from greentic_session.projections.read_models import (
    MemoryReadModels,
    ScopeEvent,
    StoredData,
    StreamHead,
    WaitEntry,
)

R = TypeVar("R")


class SqlReadModelReader(ABC):
    """The lookups over the read-model tables; a backend supplies only how to query."""

    def __init__(self, tables: SqlReadModels) -> None:
        self.tables = tables
        self.lookups = SqlLookups(tables)

    @abstractmethod
    def fetch(self, statement: str, params: tuple[Any, ...]) -> list[Sequence[Any]]:
        """Rows of one statement, outside any write transaction."""

    @abstractmethod
    def load_all(self) -> MemoryReadModels:
        """Every read model and the heads, from one consistent snapshot (`read_all`)."""

    def session_state(self, session_key: str) -> SessionState | None:
        return self._run(self.lookups.session_state(session_key))

    def session_data(self, session_key: str) -> StoredData | None:
        return self._run(self.lookups.session_data(session_key))

    def scope_entry(self, scope_key: str) -> WaitEntry | None:
        return self._run(self.lookups.scope_entry(scope_key))

    def user_waits(self, user_key: str) -> list[WaitEntry]:
        return self._run(self.lookups.user_waits(user_key))

    def due_sessions(self, now: datetime) -> list[str]:
        return self._run(self.lookups.due_sessions(now))

    def keys_with_prefix(self, prefix: str, limit: int) -> list[str]:
        return self._run(self.lookups.keys_with_prefix(prefix, limit))

    def scope_events(self, scope_key: str, at: datetime) -> list[ScopeEvent]:
        return self._run(self.lookups.scope_events(scope_key, at))

    def near_misses(self, near_miss: str, at: datetime) -> list[ScopeEvent]:
        return self._run(self.lookups.near_misses(near_miss, at))

    def find_sessions(self, query: SessionQuery, now: datetime) -> list[IndexedSession]:
        return self._run(self.lookups.find_sessions(query, now))

    def _run(self, lookup: Lookup[R]) -> R:
        return lookup.decode(self.fetch(lookup.statement, lookup.params))


class RowCursor(Protocol):
    """What `read_all` needs of a cursor: psycopg's and the library's SQLite one both fit."""

    def execute(self, statement: str, /) -> object: ...

    def fetchall(self) -> Any: ...


class RowWriter(Protocol):
    """What `write_read_models` needs of a cursor: psycopg's and the library's SQLite one."""

    def executemany(self, statement: str, params: list[tuple[Any, ...]], /) -> object: ...


WRITE_BATCH = 1000
"""Read-model changes turned into statements at a time by a rebuild."""


def write_read_models(
    cursor: RowWriter,
    tables: SqlReadModels,
    models: MemoryReadModels,
    each_batch: Callable[[], None] = lambda: None,
) -> None:
    """Fill the emptied read-model tables with `models` (not the heads), inside the
    caller's transaction: a batch of changes at a time, each run of one statement sent as
    one `executemany`, so the statements never all sit in memory at once. `each_batch` is
    called before each (a backend's deadline for the next batch)."""
    changes = as_changes(models, heads=False)
    for start in range(0, len(changes), WRITE_BATCH):
        each_batch()
        statements = tables.statements(changes[start : start + WRITE_BATCH])
        for statement, run in groupby(statements, key=itemgetter(0)):
            cursor.executemany(statement, [params for _, params in run])


def read_all(cursor: RowCursor, tables: SqlReadModels) -> MemoryReadModels:
    """Every read model and the heads, read on `cursor` inside the caller's snapshot."""
    rows = []
    for statement in tables.select_all:
        if statement is not None:
            cursor.execute(statement)
        rows.append([] if statement is None else cursor.fetchall())
    states, scopes, waits, heads, history, index = rows
    models = decode_all(tables.sealer, states, scopes, waits, heads)
    models.has_scope_history = tables.scope_history_ready
    models.has_session_index = tables.session_index.ready
    for scope_key, *row in history:
        event = decode_scope_event(row)
        models.scope_history.setdefault(scope_key, {})[(event.session_key, event.version)] = event
    for row in index:
        indexed = decode_indexed(row, tables.sealer)
        models.sessions[indexed.session_key] = indexed
    return models


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


# -- rows for verify: each table's rows in the canonical form of `read_model_rows` ----------


def _whole(value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"{value!r} is not a whole number")
    return value


def _maybe_whole(value: object) -> int | None:
    return None if value is None else _whole(value)


def _text(value: object) -> str:
    if type(value) is not str:
        raise TypeError(f"{value!r} is not text")
    return value


def _maybe_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _moment(value: object) -> datetime | None:
    return None if value is None else from_micros(_whole(value))


def _state_value(row: Sequence[Any], sealer: ContentSealer) -> Value:
    version, data, expires_at, user_key, scope_key, user_id, scope, wait_version, head = row
    unseal = sealer.unseal
    return (
        _whole(version),
        None if data is None else unseal(_text(data)),
        _moment(expires_at),
        _maybe_text(user_key),
        _maybe_text(scope_key),
        None if user_id is None else unseal(_text(user_id)),
        None if scope is None else unseal(_text(scope)),
        _maybe_whole(wait_version),
        _text(head),
    )


def _entry_value(row: Sequence[Any], sealer: ContentSealer) -> Value:
    session_key, expires_at = row
    return _text(session_key), _moment(expires_at)


def _wait_value(row: Sequence[Any], sealer: ContentSealer) -> Value:
    expires_at, position = row
    return _moment(expires_at), _whole(position)


def _history_value(row: Sequence[Any], sealer: ContentSealer) -> Value:
    kind, recorded_at, near_miss, position = row
    return _text(kind), _moment(recorded_at), _maybe_text(near_miss), _whole(position)


def _head_value(row: Sequence[Any], sealer: ContentSealer) -> Value:
    version, hash_ = row
    return _whole(version), _text(hash_)


_Decoder = Callable[[Sequence[Any], ContentSealer], Value]

_AUDIT_ROWS: dict[str, tuple[str, str, int, _Decoder]] = {
    SESSION_STATE.name: (
        "gs_session_state",
        "stream_id, session_key, version, data, expires_at, wait_user_key, wait_scope_key, "
        "wait_user_id, wait_scope, wait_version, head_hash",
        2,
        _state_value,
    ),
    SCOPE_INDEX.name: ("gs_scope_index", "scope_key, session_key, expires_at", 1, _entry_value),
    USER_WAITS.name: (
        "gs_user_waits",
        "user_key, stream_id, session_key, expires_at, position",
        3,
        _wait_value,
    ),
    HEADS.name: ("gs_stream_heads", "stream_id, session_key, version, hash", 2, _head_value),
    SCOPE_HISTORY.name: (
        SCOPE_HISTORY_TABLE,
        "scope_key, stream_id, session_key, version, kind, recorded_at, near_miss, position",
        4,
        _history_value,
    ),
    SESSION_INDEX.name: (SESSION_INDEX_TABLE, SqlSessionIndex.audit_columns, 2, audit_value),
}
"""Per read model: its table, the columns (key columns first), how many are key, and how
the rest decode to the canonical value."""


def holds(tables: SqlReadModels, model: ReadModelRows) -> bool:
    """Whether the store has `model`'s table (a late one may be missing)."""
    if model is SCOPE_HISTORY:
        return tables.scope_history_ready
    return model is not SESSION_INDEX or tables.session_index.ready


def select_rows(tables: SqlReadModels, model: ReadModelRows) -> str:
    """The statement that reads every row of `model` for `stored_rows`."""
    table, columns, _, _ = _AUDIT_ROWS[model.name]
    state_table = tables.projection_tables[0]  # the qualified name of gs_session_state
    qualifier = state_table[: -len("gs_session_state")]
    return f"SELECT {columns} FROM {qualifier}{table}"


def stored_rows(
    rows: Iterable[Sequence[Any]], model: ReadModelRows, sealer: ContentSealer
) -> Iterator[StoredRow]:
    """Rows of `select_rows`, each as its key and its value (or why it is unreadable)."""
    _, _, width, decode = _AUDIT_ROWS[model.name]
    for row in rows:
        key: Key = tuple(row[:width])
        try:
            yield key, decode(row[width:], sealer)
        except Exception as exc:  # whatever a damaged column holds: report, go on
            yield key, UnreadableRow(f"{type(exc).__name__}: {exc}")
