"""The read-model tables of the SQL backends: schema and the statements that write them.

SQLite and PostgreSQL run the same statements; only the placeholder, the table
qualifier and the auto-increment column differ. Rows are keyed by the stream id (a
UUID of the session key) and lookup-key digests, so index entries have a fixed size
however long a key is. Times are integer microseconds since the epoch (UTC), exact on both.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from greentic_session.adapters.storage.encryption import ContentSealer, PlainText
from greentic_session.adapters.storage.sql_session_index import (
    SESSION_INDEX_TABLE,
    SqlSessionIndex,
)
from greentic_session.domain.state import SessionState, stream_id
from greentic_session.projections.changes import (
    AddUserWait,
    Change,
    ClaimScope,
    DropUserWait,
    ForgetSession,
    IndexSession,
    PutState,
    RecordHead,
    RecordScopeEvent,
    RedactEvent,
    ReleaseScope,
)

Statement = tuple[str, tuple[Any, ...]]

BULK_ROWS = 5000
"""Rows per `executemany` when many changes are written at once (an import)."""

# What a rebuild replaces; `gs_stream_heads` (the anchor) is never rebuilt.
READ_MODEL_TABLES = ("gs_session_state", "gs_scope_index", "gs_user_waits")
# Also rebuilt, but rows are only ever inserted (and deleted by a rebuild), never updated;
# created apart from the others, since stores made before it must fill it from the log.
SCOPE_HISTORY_TABLE = "gs_scope_history"

# Session keys by code point, for a key-prefix lookup: one range scan.
HEADS_KEY_INDEX = "gs_stream_heads_by_key"
KEY_INDEX_CHARS = 64

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LateTable:
    """A read model stores made by an earlier version lack: its table (bare and qualified
    name), the DDL that creates it, the kind of change that fills it, and whether this
    store has it."""

    name: str
    qualified: str
    create: list[str]
    fills: type[RecordScopeEvent] | type[IndexSession]
    ready: bool


def to_micros(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + timedelta(microseconds=micros)


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """The keys starting with `prefix` are those from `prefix` (included) up to the bound
    returned (excluded; None: no bound), in code-point order: the prefix with its last
    code point incremented (past a maximal one, the one before it; surrogates skipped)."""
    head = prefix
    while head:
        last = ord(head[-1])
        if last < 0x10FFFF:
            bumped = 0xE000 if 0xD800 <= last + 1 <= 0xDFFF else last + 1
            return prefix, head[:-1] + chr(bumped)
        head = head[:-1]
    return prefix, None


class SqlReadModels:
    """Statements over the read models `gs_session_state`, `gs_scope_index`,
    `gs_user_waits`, `gs_scope_history`, and the heads `gs_stream_heads` (the anchor, never
    rebuilt).

    `scope_history_ready` is False while the store has no `gs_scope_history` (a store made
    before it, opened by a role that may not create it): its rows are then not written,
    nor read, and `explain` replays the log instead."""

    def __init__(
        self,
        *,
        qualifier: str,
        placeholder: str,
        event_position: str,
        stream_param: Callable[[UUID], Any],
        events_table: str,
        code_point_order: str = "",
    ) -> None:
        """`event_position`: a subquery giving the log position of the event with stream id
        and version `?`, `?` (`stream_param` makes the id parameter). `code_point_order`:
        what makes text compare by code point (PostgreSQL's `COLLATE "C"`; SQLite's
        default already does), so a range of keys is exactly the keys with a prefix."""

        def sql(text: str) -> str:
            return text.replace("{q}", qualifier).replace("?", placeholder)

        self._stream_param = stream_param
        # The index holds the keys' first characters only: a btree entry has a size limit
        # (PostgreSQL's is 2,704 bytes) and keys have none.
        head = f"substr(session_key, 1, {KEY_INDEX_CHARS}){code_point_order}"
        key = f"session_key{code_point_order}"
        self.heads_key_index = sql(
            f"CREATE INDEX IF NOT EXISTS {HEADS_KEY_INDEX} ON {{q}}gs_stream_heads ({head})"
        )
        self.select_keys: dict[tuple[bool, bool], str] = {}
        """By (head bounded above, key bounded above): the range of heads the index
        finds, narrowed to the range of whole keys."""
        for head_bounded in (True, False):
            for key_bounded in (True, False):
                where = [f"{head} >= ?"] + [f"{head} < ?"] * head_bounded + [f"{key} >= ?"]
                where += [f"{key} < ?"] * key_bounded
                self.select_keys[head_bounded, key_bounded] = sql(
                    f"SELECT session_key FROM {{q}}gs_stream_heads WHERE {' AND '.join(where)} "
                    f"ORDER BY {head}, {key} LIMIT ?"
                )
        self.sealer: ContentSealer = PlainText()  # the open store seals content if encrypted
        self.scope_history_ready = True
        self.session_index = SqlSessionIndex(sql, code_point_order)

        self.create_statements = [
            sql(
                "CREATE TABLE IF NOT EXISTS {q}gs_session_state ("
                "stream_id TEXT PRIMARY KEY, session_key TEXT NOT NULL, "
                "version BIGINT NOT NULL, data TEXT, "
                "expires_at BIGINT, wait_user_key TEXT, wait_scope_key TEXT, "
                "wait_user_id TEXT, wait_scope TEXT, wait_version BIGINT, "
                "head_hash TEXT NOT NULL)"
            ),
            sql(
                "CREATE INDEX IF NOT EXISTS gs_session_state_due "
                "ON {q}gs_session_state (expires_at) WHERE data IS NOT NULL"
            ),
            sql(
                "CREATE TABLE IF NOT EXISTS {q}gs_scope_index ("
                "scope_key TEXT PRIMARY KEY, session_key TEXT NOT NULL, expires_at BIGINT)"
            ),
            sql(
                "CREATE TABLE IF NOT EXISTS {q}gs_user_waits ("
                "user_key TEXT NOT NULL, stream_id TEXT NOT NULL, session_key TEXT NOT NULL, "
                "expires_at BIGINT, position BIGINT NOT NULL, PRIMARY KEY (user_key, stream_id))"
            ),
            sql(
                "CREATE INDEX IF NOT EXISTS gs_user_waits_by_user "
                "ON {q}gs_user_waits (user_key, position)"
            ),
            sql(
                "CREATE TABLE IF NOT EXISTS {q}gs_stream_heads ("
                "stream_id TEXT PRIMARY KEY, session_key TEXT NOT NULL, "
                "version BIGINT NOT NULL, hash TEXT NOT NULL)"
            ),
            self.heads_key_index,
        ]
        self.scope_history_table = sql(f"{{q}}{SCOPE_HISTORY_TABLE}")
        self.create_scope_history = [
            sql(
                "CREATE TABLE {q}gs_scope_history ("
                "scope_key TEXT NOT NULL, stream_id TEXT NOT NULL, session_key TEXT NOT NULL, "
                "version BIGINT NOT NULL, kind TEXT NOT NULL, recorded_at BIGINT NOT NULL, "
                "near_miss TEXT, position BIGINT NOT NULL, "
                "PRIMARY KEY (scope_key, stream_id, version))"
            ),
            sql(
                "CREATE INDEX gs_scope_history_by_scope "
                "ON {q}gs_scope_history (scope_key, position)"
            ),
            sql(
                "CREATE INDEX gs_scope_history_near_misses "
                "ON {q}gs_scope_history (near_miss, position) WHERE near_miss IS NOT NULL"
            ),
        ]
        self._projection_tables = [sql(f"{{q}}{name}") for name in READ_MODEL_TABLES]
        self.select_state = sql(
            "SELECT version, data, expires_at, wait_user_key, wait_scope_key, wait_user_id, "
            "wait_scope, wait_version, head_hash FROM {q}gs_session_state WHERE stream_id = ?"
        )
        self.select_data = sql(
            "SELECT data, expires_at FROM {q}gs_session_state WHERE stream_id = ?"
        )
        self.select_scope = sql(
            "SELECT session_key, expires_at FROM {q}gs_scope_index WHERE scope_key = ?"
        )
        self.select_waits = sql(
            "SELECT session_key, expires_at FROM {q}gs_user_waits WHERE user_key = ? "
            "ORDER BY position"
        )
        self.select_due = sql(
            "SELECT session_key FROM {q}gs_session_state "
            "WHERE data IS NOT NULL AND expires_at <= ? ORDER BY expires_at"
        )
        self.select_all_states = sql(
            "SELECT session_key, version, data, expires_at, wait_user_key, wait_scope_key, "
            "wait_user_id, wait_scope, wait_version, head_hash FROM {q}gs_session_state"
        )
        self.select_all_heads = sql("SELECT session_key, version, hash FROM {q}gs_stream_heads")
        self.select_all_scopes = sql(
            "SELECT scope_key, session_key, expires_at FROM {q}gs_scope_index"
        )
        self.select_all_waits = sql(
            "SELECT user_key, session_key, expires_at FROM {q}gs_user_waits ORDER BY position"
        )
        history_columns = "session_key, version, kind, recorded_at, near_miss, position"
        self.select_scope_events = sql(
            f"SELECT {history_columns} FROM {{q}}gs_scope_history "
            "WHERE scope_key = ? AND recorded_at <= ? ORDER BY position"
        )
        self.select_near_misses = sql(
            f"SELECT {history_columns} FROM {{q}}gs_scope_history "
            "WHERE near_miss = ? AND recorded_at <= ? ORDER BY position"
        )
        self.select_all_scope_history = sql(
            f"SELECT scope_key, {history_columns} FROM {{q}}gs_scope_history ORDER BY position"
        )
        self._put_state = sql(
            "INSERT INTO {q}gs_session_state VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, "
            "data = excluded.data, expires_at = excluded.expires_at, "
            "wait_user_key = excluded.wait_user_key, wait_scope_key = excluded.wait_scope_key, "
            "wait_user_id = excluded.wait_user_id, wait_scope = excluded.wait_scope, "
            "wait_version = excluded.wait_version, "
            "head_hash = excluded.head_hash"
        )
        self._record_head = sql(
            "INSERT INTO {q}gs_stream_heads VALUES (?, ?, ?, ?) "
            "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, "
            "hash = excluded.hash"
        )
        self._claim_scope = sql("INSERT INTO {q}gs_scope_index VALUES (?, ?, ?)")
        self._release_scope = sql(
            "DELETE FROM {q}gs_scope_index WHERE scope_key = ? AND session_key = ?"
        )
        add_wait = (
            "INSERT INTO {q}gs_user_waits (user_key, stream_id, session_key, expires_at, position) "
            "{values} ON CONFLICT (user_key, stream_id) DO UPDATE SET "
            "session_key = excluded.session_key, expires_at = excluded.expires_at, "
            "position = excluded.position"
        )
        self._add_wait = sql(add_wait.replace("{values}", f"VALUES (?, ?, ?, ?, {event_position})"))
        self._add_wait_after = sql(
            add_wait.replace(
                "{values}",
                "SELECT ?, ?, ?, ?, notification_id FROM {events} "
                "WHERE originator_id = ? AND originator_version = ?",
            )
        )
        self._drop_wait = sql("DELETE FROM {q}gs_user_waits WHERE user_key = ? AND stream_id = ?")
        # An erasure's: the payload of an erased event overwritten (the log's owner only),
        # and the rows derived from the key's events deleted.
        self._redact_event = sql(
            f"UPDATE {events_table} SET state = ? "
            "WHERE originator_id = ? AND originator_version = ?"
        )
        self._forget_scope_history = sql("DELETE FROM {q}gs_scope_history WHERE stream_id = ?")
        self._forget_index_row = sql("DELETE FROM {q}gs_session_index WHERE stream_id = ?")
        add_row = (
            "INSERT INTO {q}gs_scope_history (scope_key, stream_id, session_key, version, kind, "
            "recorded_at, near_miss, position) {values}"
        )
        self._add_scope_event = sql(add_row.replace("{values}", "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
        self._add_scope_event_looked_up = sql(
            add_row.replace("{values}", f"VALUES (?, ?, ?, ?, ?, ?, ?, {event_position})")
        )
        self._add_scope_event_after = sql(
            add_row.replace(
                "{values}",
                "SELECT ?, ?, ?, ?, ?, ?, ?, notification_id FROM {events} "
                "WHERE originator_id = ? AND originator_version = ?",
            )
        )

    @property
    def late_tables(self) -> list[LateTable]:
        """The read models added after the first release, each created (and filled from the
        log) when an existing store is first opened by a role that may."""
        return [
            LateTable(
                SCOPE_HISTORY_TABLE,
                self.scope_history_table,
                self.create_scope_history,
                RecordScopeEvent,
                self.scope_history_ready,
            ),
            LateTable(
                SESSION_INDEX_TABLE,
                self.session_index.table,
                self.session_index.create,
                IndexSession,
                self.session_index.ready,
            ),
        ]

    def set_ready(self, name: str, ready: bool) -> None:
        """Whether the late table `name` is there for this role to read and write."""
        if name == SCOPE_HISTORY_TABLE:
            self.scope_history_ready = ready
        else:
            self.session_index.ready = ready

    @property
    def projection_tables(self) -> list[str]:
        """The tables a rebuild empties and fills again."""
        late = [table.qualified for table in self.late_tables if table.ready]
        return [*self._projection_tables, *late]

    @property
    def select_all(self) -> list[str | None]:
        """`select_all_*` of states, scopes, waits, heads, scope history and session index
        (None for a late table the store lacks)."""
        history = self.select_all_scope_history if self.scope_history_ready else None
        index = self.session_index.select_all if self.session_index.ready else None
        return [
            self.select_all_states,
            self.select_all_scopes,
            self.select_all_waits,
            self.select_all_heads,
            history,
            index,
        ]

    def statements(self, changes: Iterable[Change], events: str | None = None) -> list[Statement]:
        """The writes that apply `changes`; a clashing claim fails on the primary key.

        `events`: the name of a `WITH` query that inserts the events and returns their
        positions, when the writes become parts of one statement (they cannot see the
        events table's new rows then)."""
        add_wait = (
            self._add_wait if events is None else self._add_wait_after.replace("{events}", events)
        )
        add_row = (
            self._add_scope_event_looked_up
            if events is None
            else self._add_scope_event_after.replace("{events}", events)
        )
        out: list[Statement] = []
        for change in changes:
            if isinstance(change, PutState):
                out.append((self._put_state, self.encode_state(change.state)))
            elif isinstance(change, ClaimScope):
                out.append(
                    (
                        self._claim_scope,
                        (change.scope_key, change.session_key, to_micros(change.expires_at)),
                    )
                )
            elif isinstance(change, ReleaseScope):
                out.append((self._release_scope, (change.scope_key, change.session_key)))
            elif isinstance(change, AddUserWait):
                uuid = stream_id(change.session_key)
                expires_at = to_micros(change.expires_at)
                row = (change.user_key, str(uuid), change.session_key, expires_at)
                out.append((add_wait, (*row, self._stream_param(uuid), change.version)))
            elif isinstance(change, DropUserWait):
                out.append((self._drop_wait, (change.user_key, str(stream_id(change.session_key)))))
            elif isinstance(change, RecordHead):
                stream = str(stream_id(change.session_key))
                head = (stream, change.session_key, change.version, change.hash)
                out.append((self._record_head, head))
            elif isinstance(change, RecordScopeEvent) and self.scope_history_ready:
                out.append(self._scope_event(change, add_row))
            elif isinstance(change, IndexSession) and self.session_index.ready:
                out.append(self.session_index.statement(change, self.sealer))
            elif isinstance(change, RedactEvent):
                uuid = stream_id(change.session_key)
                params = (change.state, self._stream_param(uuid), change.version)
                out.append((self._redact_event, params))
            elif isinstance(change, ForgetSession):
                of_stream = (str(stream_id(change.session_key)),)
                if self.scope_history_ready:
                    out.append((self._forget_scope_history, of_stream))
                if self.session_index.ready:
                    out.append((self._forget_index_row, of_stream))
        return out

    def in_bulk(self, changes: Iterable[Change]) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        """The writes that apply `changes`, as `executemany` calls of up to `BULK_ROWS`
        rows each: consecutive changes of one kind share a statement. Changes are encoded
        a chunk at a time, so a million of them are never all held as parameters."""
        changes = iter(changes)
        while chunk := list(itertools.islice(changes, BULK_ROWS)):
            for text, group in itertools.groupby(self.statements(chunk), key=lambda s: s[0]):
                yield text, [params for _, params in group]

    def _scope_event(self, change: RecordScopeEvent, looked_up: str) -> Statement:
        uuid = stream_id(change.session_key)
        row = (
            change.scope_key,
            str(uuid),
            change.session_key,
            change.version,
            change.kind,
            to_micros(change.recorded_at),
            change.near_miss,
        )
        if change.position is not None:
            return self._add_scope_event, (*row, change.position)
        return looked_up, (*row, self._stream_param(uuid), change.version)

    def encode_state(self, state: SessionState) -> tuple[Any, ...]:
        seal, wait = self.sealer.seal, state.wait
        return (
            str(state.originator_id),
            state.session_key,
            state.version,
            None if state.data is None else seal(state.data.model_dump_json()),
            to_micros(state.expires_at),
            None if wait is None else wait.user_key,
            None if wait is None else wait.scope_key,
            None if wait is None else seal(wait.user_id),
            None if wait is None else seal(wait.scope.model_dump_json()),
            None if wait is None else wait.version,
            state.head_hash,
        )
