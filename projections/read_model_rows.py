"""Each read model as rows in one canonical form, for comparing a store's tables with a
replay of its log without holding either side decoded.

A row is a key and a value, both tuples of plain values (text, whole numbers, aware
datetimes, None): the key names the row as the store's table does (stream ids and session
keys both, so a row moved to another stream id shows), the value is everything else the
row stores, content as the JSON text it is stored as. `verify` streams the stored rows,
looks each one up in the replay, and compares the two by their `repr`, so even a change of
a value's type counts. A new read model slots in as one more `ReadModelRows` in
`READ_MODELS`, with its table's decoder beside the others in `sql_reader`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from greentic_session.domain.state import SessionState, stream_id
from greentic_session.projections.changes import IndexedSession
from greentic_session.projections.read_models import MemoryReadModels, StreamHead, WaitEntry

T = TypeVar("T")
Key = tuple[object, ...]
Value = tuple[object, ...]
Row = tuple[Key, Value]


class UnreadableRow(ValueError):
    """A stored row whose value does not decode (a damaged column, a wrong type)."""


StoredRow = tuple[Key, Value | UnreadableRow]
"""A row as a backend reads it back: its value, or why it could not be read."""


class RowSource(Protocol):
    """Read models as dicts, and what their rows hold beyond them: the log position of the
    event that registered each wait (a replay knows it; the memory backend looks it up)."""

    @property
    def models(self) -> MemoryReadModels: ...

    def wait_position(self, session_key: str) -> int | None: ...


@dataclass(frozen=True)
class ReadModelRows:
    """One read model's rows: all of them, or one looked up by key (None: no such row)."""

    name: str
    keys: Callable[[RowSource], Iterator[Key]]
    row: Callable[[RowSource, Key], Value | None]
    label: Callable[[Key], str]
    describe: Callable[[Value], str]

    def rows(self, source: RowSource) -> Iterator[Row]:
        for key in self.keys(source):
            value = self.row(source, key)
            if value is not None:
                yield key, value

    def lookup(self, source: RowSource, key: Key) -> Value | None:
        """The row at `key`, or None; a key of any shape (a stored one may be damaged)."""
        try:
            return self.row(source, key)
        except (TypeError, ValueError, AttributeError):
            return None


def own_stream(stream: object, session_key: object) -> bool:
    """A row's stream id is its session key's (text both)."""
    return (
        isinstance(session_key, str)
        and isinstance(stream, str)
        and stream == str(stream_id(session_key))
    )


def _text(key: object) -> str:
    return key if isinstance(key, str) else repr(key)


def _until(moment: object) -> str:
    return f" until {moment.isoformat()}" if isinstance(moment, datetime) else ""


# -- session state -------------------------------------------------------------------


def state_value(state: SessionState) -> Value:
    """A state row's value: version, data JSON, deadline, the wait's five columns, head."""
    wait = state.wait
    return (
        state.version,
        None if state.data is None else state.data.model_dump_json(),
        state.expires_at,
        None if wait is None else wait.user_key,
        None if wait is None else wait.scope_key,
        None if wait is None else wait.user_id,
        None if wait is None else wait.scope.model_dump_json(),
        None if wait is None else wait.version,
        state.head_hash,
    )


def _per_session(
    rows_of: Callable[[MemoryReadModels], Mapping[str, T]], value: Callable[[T], Value]
) -> tuple[Callable[[RowSource], Iterator[Key]], Callable[[RowSource, Key], Value | None]]:
    """The keys and the row lookup of a read model with one row per session, keyed by its
    stream id and session key (state, session index, heads)."""

    def keys(source: RowSource) -> Iterator[Key]:
        return ((str(stream_id(key)), key) for key in rows_of(source.models))

    def row(source: RowSource, key: Key) -> Value | None:
        stream, session_key = key
        if not own_stream(stream, session_key):
            return None
        assert isinstance(session_key, str)
        found = rows_of(source.models).get(session_key)
        return None if found is None else value(found)

    return keys, row


_state_keys, _state_row = _per_session(lambda models: models.states, state_value)


def _state_label(key: Key) -> str:
    stream, session_key = key
    if own_stream(stream, session_key):
        return f"of {_text(session_key)}"
    return f"of {_text(session_key)} under stream id {_text(stream)}, not its own"


def _state_describe(value: Value) -> str:
    return f"v{value[0]}"


# -- scope index -----------------------------------------------------------------------


def _scope_keys(source: RowSource) -> Iterator[Key]:
    return ((scope_key,) for scope_key in source.models.scopes)


def _scope_row(source: RowSource, key: Key) -> Value | None:
    (scope_key,) = key
    entry = source.models.scopes.get(scope_key) if isinstance(scope_key, str) else None
    return None if entry is None else (entry.session_key, entry.expires_at)


def _entry_describe(value: Value) -> str:
    return f"{_text(value[0])}{_until(value[1])}"


# -- user waits ------------------------------------------------------------------------


def _wait_keys(source: RowSource) -> Iterator[Key]:
    for user_key, entries in source.models.waits.items():
        for session_key in entries:
            yield user_key, str(stream_id(session_key)), session_key


def _wait_row(source: RowSource, key: Key) -> Value | None:
    user_key, stream, session_key = key
    if not isinstance(user_key, str) or not own_stream(stream, session_key):
        return None
    assert isinstance(session_key, str)
    entry: WaitEntry | None = source.models.waits.get(user_key, {}).get(session_key)
    if entry is None:
        return None
    return entry.expires_at, source.wait_position(session_key)


def _wait_label(key: Key) -> str:
    user_key, stream, session_key = key
    where = "" if own_stream(stream, session_key) else f" under stream id {_text(stream)}"
    return f"of user {_text(user_key)[:16]}, session {_text(session_key)}{where}"


def _wait_describe(value: Value) -> str:
    return f"a wait{_until(value[0])} at log position {value[1]}"


# -- scope history ---------------------------------------------------------------------


def _history_keys(source: RowSource) -> Iterator[Key]:
    for scope_key, rows in source.models.scope_history.items():
        for session_key, version in rows:
            yield scope_key, str(stream_id(session_key)), session_key, version


def _history_row(source: RowSource, key: Key) -> Value | None:
    scope_key, stream, session_key, version = key
    if not isinstance(scope_key, str) or not own_stream(stream, session_key):
        return None
    assert isinstance(session_key, str)
    rows = source.models.scope_history.get(scope_key, {})
    row = rows.get((session_key, version)) if isinstance(version, int) else None
    return None if row is None else (row.kind, row.recorded_at, row.near_miss, row.position)


def _history_label(key: Key) -> str:
    scope_key, stream, session_key, version = key
    where = "" if own_stream(stream, session_key) else f" under stream id {_text(stream)}"
    return f"of scope {_text(scope_key)[:16]}, {_text(session_key)} v{version}{where}"


def _history_describe(value: Value) -> str:
    kind, recorded_at, _, position = value
    at = f" at {recorded_at.isoformat()}" if isinstance(recorded_at, datetime) else ""
    return f"{_text(kind)}{at}, log position {position}"


# -- session index -----------------------------------------------------------------------


def index_value(row: IndexedSession) -> Value:
    """A session-index row's value: its identifiers, status, wait, version and times."""
    return (
        row.env,
        row.tenant,
        row.team,
        row.user,
        row.flow,
        row.conversation,
        row.status,
        int(row.waiting),
        row.version,
        row.updated_at,
        row.expires_at,
    )


_index_keys, _index_row = _per_session(lambda models: models.sessions, index_value)


def _index_describe(value: Value) -> str:
    return f"{_text(value[6])} v{value[8]} of tenant {_text(value[1])}"


# -- heads (the anchor, not a read model: checked against the log's chains) ----------------


def head_value(head: StreamHead) -> Value:
    return head.version, head.hash


_head_keys, _head_row = _per_session(lambda models: models.heads, head_value)


SESSION_STATE = ReadModelRows(
    "session state", _state_keys, _state_row, _state_label, _state_describe
)
SCOPE_INDEX = ReadModelRows(
    "scope index",
    _scope_keys,
    _scope_row,
    lambda key: f"entry {_text(key[0])[:16]}",
    _entry_describe,
)
USER_WAITS = ReadModelRows("user waits", _wait_keys, _wait_row, _wait_label, _wait_describe)
HEADS = ReadModelRows(
    "heads", _head_keys, _head_row, _state_label, lambda value: f"v{value[0]}"
)

SCOPE_HISTORY = ReadModelRows(
    "scope history", _history_keys, _history_row, _history_label, _history_describe
)

SESSION_INDEX = ReadModelRows(
    "session index", _index_keys, _index_row, _state_label, _index_describe
)

READ_MODELS = (SESSION_STATE, SCOPE_INDEX, USER_WAITS, SCOPE_HISTORY, SESSION_INDEX)
"""Every read model a replay rebuilds, in the order `verify` compares them (the scope
history and the session index only where the store has them: see
`log_verification.verify`)."""
