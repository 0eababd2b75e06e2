"""For the tamper tests: direct SQL on a store's own SQLite or PostgreSQL tables, bypassing
the store; the sessions they edit; and how `verify` must name an edit."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from greentic_session import SessionKey, VerifyReport
from greentic_session.domain.state import stream_id
from tests.support import make_ctx, make_scope

USER = "alice"
CTX = make_ctx(user=USER)
SCOPE_A = make_scope("chat-a")
SCOPE_B = make_scope("chat-b")

Rows = list[tuple[Any, ...]]


class RawTables:
    """SQL on the store's own tables, bypassing the store.

    Statements use `?` placeholders and these names: `{q}` the table qualifier (the
    PostgreSQL schema), `{events}` the event log table, `{position}` its log-position
    column. `stream(key)` is the key's `originator_id` as the events table stores it.
    """

    def __init__(
        self,
        run: Callable[[str, Sequence[Any]], Rows],
        *,
        placeholder: str,
        qualifier: str,
        events: str,
        position: str,
        stream: Callable[[uuid.UUID], Any],
    ) -> None:
        self._run = run
        self._placeholder = placeholder
        self._qualifier = qualifier
        self._events = events
        self._position = position
        self._stream = stream

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        text = (
            sql.replace("{events}", f"{{q}}{self._events}")
            .replace("{q}", self._qualifier)
            .replace("{position}", self._position)
            .replace("?", self._placeholder)
        )
        return self._run(text, params)

    def stream(self, key: str) -> Any:
        return self._stream(stream_id(key))

    def event(self, key: str, version: int) -> tuple[str, bytes]:
        """The stored topic and state of one event."""
        rows = self.execute(
            "SELECT topic, state FROM {events} WHERE originator_id = ? AND originator_version = ?",
            (self.stream(key), version),
        )
        assert len(rows) == 1, rows
        topic, state = rows[0]
        return topic, bytes(state)

    def set_event(self, key: str, version: int, topic: str, state: bytes) -> None:
        self.execute(
            "UPDATE {events} SET topic = ?, state = ? "
            "WHERE originator_id = ? AND originator_version = ?",
            (topic, state, self.stream(key), version),
        )

    def position(self, key: str, version: int) -> int:
        rows = self.execute(
            "SELECT {position} FROM {events} WHERE originator_id = ? AND originator_version = ?",
            (self.stream(key), version),
        )
        position: int = rows[0][0]
        return position

    def move_event(self, key: str, version: int, position: int) -> None:
        self.execute(
            "UPDATE {events} SET {position} = ? WHERE originator_id = ? AND originator_version = ?",
            (position, self.stream(key), version),
        )

    def delete_event(self, key: str, version: int) -> None:
        self.execute(
            "DELETE FROM {events} WHERE originator_id = ? AND originator_version = ?",
            (self.stream(key), version),
        )

    # -- tombstones (`gs_archived_streams`) --------------------------------------------------

    def set_tombstone(self, key: str, column: str, value: Any) -> None:
        """Change one column of the key's tombstones."""
        self.execute(
            f"UPDATE {{q}}gs_archived_streams SET {column} = ? WHERE stream_id = ?",
            (value, str(stream_id(key))),
        )

    def delete_tombstone(self, key: str) -> None:
        self.execute(
            "DELETE FROM {q}gs_archived_streams WHERE stream_id = ?", (str(stream_id(key)),)
        )


def _sqlite_tables(path: str) -> RawTables:
    def run(sql: str, params: Sequence[Any]) -> Rows:
        connection = sqlite3.connect(path, timeout=10)
        try:
            with connection:
                return connection.execute(sql, tuple(params)).fetchall()
        finally:
            connection.close()

    events = run(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%originator_version%'",
        (),
    )
    assert len(events) == 1, events
    return RawTables(
        run,
        placeholder="?",
        qualifier="",
        events=events[0][0],
        position="rowid",
        stream=lambda stream: stream.hex,
    )


def _postgres_tables(dsn: str, schema: str) -> RawTables:
    def run(sql: str, params: Sequence[Any]) -> Rows:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as connection:
            cursor = connection.execute(sql, tuple(params))
            return cursor.fetchall() if cursor.description is not None else []

    events = run(
        "SELECT table_name FROM information_schema.columns "
        "WHERE table_schema = %s AND column_name = 'originator_version'",
        (schema,),
    )
    assert len(events) == 1, events
    return RawTables(
        run,
        placeholder="%s",
        qualifier=f'"{schema}".',
        events=f'"{events[0][0]}"',
        position="notification_id",
        stream=lambda stream: stream,
    )


@dataclass(frozen=True)
class Sessions:
    """`waiting`: v1 created, v2 updated, v3 wait registered on SCOPE_A, v4 updated.
    `other`: v1 created, v2 wait registered on SCOPE_B."""

    waiting: SessionKey
    other: SessionKey


def problems_naming(report: VerifyReport, *parts: str) -> list[str]:
    """The problems that mention every one of `parts`."""
    assert not report.ok, "verify() found nothing wrong"
    assert report.problems
    return [p for p in report.problems if all(part in p for part in parts)]


def assert_named(report: VerifyReport, *parts: str) -> None:
    found = problems_naming(report, *parts)
    assert found, f"no problem names {parts}: {report.problems}"


# -- the seeded random tamperer -------------------------------------------------------------

EVENTS = "{events}"
READ_MODEL_TABLES = (
    "gs_session_state",
    "gs_scope_index",
    "gs_user_waits",
    "gs_scope_history",
    "gs_session_index",
)
HEADS_TABLE = "gs_stream_heads"
Dump = dict[str, list[tuple[Any, ...]]]


class Refused(Exception):
    """The database refused the edit (a constraint): nothing changed."""


class Tamperer:
    """Seeded random damage to a store's tables through `raw`, one edit per case.

    `pristine()` saves the tables once; `restore()` puts them back before each case.
    Each kind of damage is a method `damage_<kind>`; it returns what it did, in words,
    and raises `Refused` when the database refuses it."""

    def __init__(self, raw: RawTables, backend: str, rng: Any) -> None:
        self.raw = raw
        self.backend = backend
        self.rng = rng
        self._position = "rowid" if backend == "sqlite" else "notification_id"

    # -- saving and restoring ----------------------------------------------------------------

    def _columns(self, table: str) -> str:
        if table == EVENTS:
            return f"{self._position}, originator_id, originator_version, topic, state"
        return "*"

    def dump(self) -> Dump:
        """Every stored row of every table, sorted: what `changed` compares."""
        out: Dump = {}
        for table in (EVENTS, *READ_MODEL_TABLES, HEADS_TABLE):
            name = table if table == EVENTS else f"{{q}}{table}"
            rows = self.raw.execute(f"SELECT {self._columns(table)} FROM {name}")
            out[table] = sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)
        return out

    def pristine(self) -> None:
        for table in (EVENTS, *READ_MODEL_TABLES, HEADS_TABLE):
            name = table if table == EVENTS else f"{{q}}{table}"
            backup = f"{{q}}bak_{table.strip('{}')}"
            self.raw.execute(f"DROP TABLE IF EXISTS {backup}")
            self.raw.execute(f"CREATE TABLE {backup} AS SELECT {self._columns(table)} FROM {name}")

    def restore(self) -> None:
        for table in (EVENTS, *READ_MODEL_TABLES, HEADS_TABLE):
            name = table if table == EVENTS else f"{{q}}{table}"
            backup = f"{{q}}bak_{table.strip('{}')}"
            columns = self._columns(table)
            into = "" if columns == "*" else f" ({columns})"
            self.raw.execute(f"DELETE FROM {name}")
            self.raw.execute(f"INSERT INTO {name}{into} SELECT {columns} FROM {backup}")

    # -- picking -----------------------------------------------------------------------------

    def events(self) -> Rows:
        """(position, stream, version, topic, state) of every event, in log order."""
        return self.raw.execute(f"SELECT {self._columns(EVENTS)} FROM {EVENTS} ORDER BY 1")

    def _event(self) -> tuple[Any, ...]:
        return tuple(self.rng.choice(self.events()))

    def _set(self, event: tuple[Any, ...], column: str, value: Any) -> None:
        self._run(f"UPDATE {EVENTS} SET {column} = ? WHERE {self._position} = ?", (value, event[0]))

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        try:
            return self.raw.execute(sql, params)
        except (sqlite3.Error, psycopg.Error) as exc:
            raise Refused(f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from exc

    def _payload(self, event: tuple[Any, ...]) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(bytes(event[4]))
        return loaded

    def _stream_value(self) -> Any:
        fresh = uuid.uuid4()
        return fresh.hex if self.backend == "sqlite" else fresh

    # -- damage to the log -------------------------------------------------------------------

    def damage_flip_bytes(self) -> str:
        event = self._event()
        state = bytearray(bytes(event[4]))
        flips = self.rng.randint(1, 3)
        for _ in range(flips):
            state[self.rng.randrange(len(state))] ^= self.rng.randint(1, 255)
        self._set(event, "state", bytes(state))
        return f"{flips} bytes flipped in the payload at position {event[0]}"

    def _swap(self, a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
        self._set(a, "state", bytes(b[4]))
        self._set(b, "state", bytes(a[4]))

    def damage_swap_payloads_in_a_stream(self) -> str:
        streams: dict[Any, list[tuple[Any, ...]]] = {}
        for event in self.events():
            streams.setdefault(event[1], []).append(tuple(event))
        long = [events for events in streams.values() if len(events) > 1]
        a, b = self.rng.sample(self.rng.choice(long), 2)
        self._swap(a, b)
        return f"payloads swapped between positions {a[0]} and {b[0]} of one stream"

    def damage_swap_payloads_across_streams(self) -> str:
        events = self.events()
        a = tuple(self.rng.choice(events))
        b = tuple(self.rng.choice([e for e in events if e[1] != a[1]]))
        self._swap(a, b)
        return f"payloads swapped between positions {a[0]} and {b[0]} of two streams"

    def damage_swap_payloads_across_types(self) -> str:
        events = self.events()
        a = tuple(self.rng.choice(events))
        b = tuple(self.rng.choice([e for e in events if e[3] != a[3]]))
        self._swap(a, b)
        return f"payloads swapped between a {a[3]} and a {b[3]}"

    def damage_topic_of_another_type(self) -> str:
        event = self._event()
        topics = sorted({e[3] for e in self.events()} - {event[3]})
        topic = self.rng.choice(topics)
        self._set(event, "topic", topic)
        return f"topic at position {event[0]} changed to {topic}"

    def damage_topic_unknown(self) -> str:
        event = self._event()
        topic = self.rng.choice(
            [
                "builtins:dict",
                "os:system",
                "no colon",
                "",
                "eventsourcing.domain:Aggregate.Event",
                "greentic_session.domain.aggregate:Session",
                "greentic_session.domain.aggregate:Nope",
            ]
        )
        self._set(event, "topic", topic)
        return f"topic at position {event[0]} changed to {topic!r}"

    def damage_topic_of_0_1_0(self) -> str:
        """An event after the log's first under 0.1.0's name for its class (the first one
        could have been written by 0.1.0: see the README's limits of verify)."""
        event = tuple(self.rng.choice(self.events()[1:]))
        topic = "domain.aggregate:" + str(event[3]).split(":", 1)[1]
        self._set(event, "topic", topic)
        return f"topic at position {event[0]} changed to 0.1.0's {topic}"

    def damage_payload_not_json(self) -> str:
        event = self._event()
        junk = self.rng.choice(
            [
                b"",
                b"not json",
                b"\xff\xfe\x00",
                bytes(self.rng.randrange(256) for _ in range(40)),
                bytes(event[4])[:-1],
                b"{" * 3,
            ]
        )
        self._set(event, "state", junk)
        return f"payload at position {event[0]} replaced by {junk[:20]!r}"

    def damage_payload_of_the_wrong_shape(self) -> str:
        event = self._event()
        payload = self._payload(event)
        field = self.rng.choice(sorted(payload))
        shape = self.rng.choice(
            [[], 1, "text", None, {}, {"data": {}}, "wrong field", "wrong field", "wrong field"]
        )
        if shape == "wrong field":
            payload[field] = self.rng.choice(
                [
                    5,
                    -1,
                    2**70,
                    "tomorrow",
                    [],
                    {},
                    None,
                    True,
                    {"_type_": "datetime_iso", "_data_": "garbage"},
                    {"_type_": "uuid_hex", "_data_": "0" * 32},
                    1.5,
                ]
            )
            what = f"field {field} = {payload[field]!r}"
            shaped: Any = payload
        else:
            shaped, what = shape, f"JSON {shape!r}"
        self._set(event, "state", _json(shaped))
        return f"payload at position {event[0]}: {what}"

    def damage_extra_field(self) -> str:
        event = self._event()
        payload = self._payload(event)
        name = self.rng.choice(["x", "class_version", "originator_id", "note", "hash2"])
        payload[name] = self.rng.choice([1, "y", None, {"a": 1}])
        self._set(event, "state", _json(payload))
        return f"top-level field {name!r} added at position {event[0]}"

    def damage_missing_field(self) -> str:
        event = self._event()
        payload = self._payload(event)
        name = self.rng.choice(sorted(payload))
        del payload[name]
        self._set(event, "state", _json(payload))
        return f"field {name!r} removed at position {event[0]}"

    def damage_reformatted_payload(self) -> str:
        event = self._event()
        payload = self._payload(event)
        text = json.dumps(payload, indent=self.rng.choice([None, 1]))
        self._set(event, "state", text.encode())
        return f"payload at position {event[0]} written with other spacing"

    def damage_version(self) -> str:
        event = self._event()
        values: list[Any] = [event[2] + 1, event[2] - 1, 0, -3, 2**62, event[2] + 7]
        if self.backend == "sqlite":
            values += ["abc", 1.5]
        value = self.rng.choice(values)
        self._set(event, "originator_version", value)
        return f"version at position {event[0]} changed from {event[2]} to {value!r}"

    def damage_moved_to_another_stream(self) -> str:
        event = self._event()
        others = sorted({e[1] for e in self.events()} - {event[1]}, key=str)
        target = self.rng.choice([*others, self._stream_value()])
        if self.backend == "sqlite" and self.rng.random() < 0.2:
            target = "not-a-uuid"
        self._set(event, "originator_id", target)
        return f"event at position {event[0]} moved to stream {target}"

    def damage_reordered_in_a_stream(self) -> str:
        streams: dict[Any, list[tuple[Any, ...]]] = {}
        for event in self.events():
            streams.setdefault(event[1], []).append(tuple(event))
        a, b = sorted(
            self.rng.sample(self.rng.choice([s for s in streams.values() if len(s) > 1]), 2)
        )
        spare = max(e[0] for e in self.events()) + 1
        self._set(a, self._position, spare)
        self._run(
            f"UPDATE {EVENTS} SET {self._position} = ? WHERE {self._position} = ?", (a[0], b[0])
        )
        self._run(
            f"UPDATE {EVENTS} SET {self._position} = ? WHERE {self._position} = ?", (b[0], spare)
        )
        return f"positions {a[0]} and {b[0]} of one stream swapped"

    def damage_deleted_event(self) -> str:
        event = self._event()
        self._run(f"DELETE FROM {EVENTS} WHERE {self._position} = ?", (event[0],))
        return f"event at position {event[0]} deleted"

    def damage_inserted_event(self) -> str:
        event = self._event()
        stream = self.rng.choice([event[1], self._stream_value()])
        version = self.rng.choice([event[2], event[2] + 1, 50])
        self._run(
            f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)",
            (stream, version, event[3], bytes(event[4])),
        )
        return f"a copy of position {event[0]} inserted as stream {stream} v{version}"

    def _unerased(self) -> tuple[Any, ...]:
        """An event that is neither erased nor an erasure."""
        events = [e for e in self.events() if not {"erased_in", "reason"} & set(self._payload(e))]
        return tuple(self.rng.choice(events))

    def damage_body_erased_by_hand(self) -> str:
        """The payload made to look as an erasure leaves it, with no erasure after it."""
        event = self._unerased()
        payload = self._payload(event)
        envelope = ("timestamp", "prev_hash", "hash", "commitment")
        redacted = {name: payload.get(name, "") for name in envelope}
        key = next(
            (
                self._payload(e).get("session_key")
                for e in self.events()
                if e[1] == event[1] and "session_key" in self._payload(e)
            ),
            "unknown",
        )
        erased_in = event[2] + self.rng.choice([1, 2, 50])
        redacted |= {"session_key": key, "erased_in": erased_in}
        self._set(event, "state", _json(redacted))
        return f"body at position {event[0]} removed by hand (erased_in v{erased_in})"

    def damage_erasure_count_changed(self) -> str:
        erasures = [e for e in self.events() if "reason" in self._payload(e)]
        event = tuple(self.rng.choice(erasures))
        payload = self._payload(event)
        payload["events"] = payload["events"] + self.rng.choice([-1, 1, 5])
        self._set(event, "state", _json(payload))
        return f"erasure at position {event[0]} counts {payload['events']} events"

    # -- damage to the read models and the heads ---------------------------------------------

    def _row(self, table: str) -> tuple[list[str], tuple[Any, ...]] | None:
        rows = self.raw.execute(f"SELECT * FROM {{q}}{table}")
        if not rows:
            return None
        return COLUMNS[table], tuple(self.rng.choice(rows))

    def _where(self, names: list[str], row: tuple[Any, ...]) -> tuple[str, list[Any]]:
        key = _KEYS[_table_of(names)]
        return " AND ".join(f"{k} = ?" for k in key), [row[names.index(k)] for k in key]

    def _table(self, heads: bool) -> str:
        return HEADS_TABLE if heads else self.rng.choice(READ_MODEL_TABLES)

    def _delete_row(self, heads: bool) -> str:
        table = self._table(heads)
        picked = self._row(table)
        if picked is None:
            return f"nothing in {table} to delete"
        names, row = picked
        where, params = self._where(names, row)
        self._run(f"DELETE FROM {{q}}{table} WHERE {where}", params)
        return f"a row of {table} deleted"

    def _insert_row(self, heads: bool) -> str:
        table = self._table(heads)
        picked = self._row(table)
        if picked is None:
            return f"nothing in {table} to copy"
        names, row = picked
        changed = list(row)
        column = self.rng.choice(
            _KEYS[_table_of(names)] + (["session_key"] if "session_key" in names else [])
        )
        changed[names.index(column)] = self.rng.choice(
            [
                str(uuid.uuid4()),
                f"{row[names.index(column)]}x",
                str(row[names.index(column)]).upper(),
            ]
        )
        marks = ", ".join("?" * len(names))
        self._run(f"INSERT INTO {{q}}{table} ({', '.join(names)}) VALUES ({marks})", changed)
        return f"a copy of a row of {table} inserted with {column} changed"

    def _alter_row(self, heads: bool) -> str:
        table = self._table(heads)
        picked = self._row(table)
        if picked is None:
            return f"nothing in {table} to alter"
        names, row = picked
        column = self.rng.choice(names)
        old = row[names.index(column)]
        new = self.rng.choice(_variants(old, self.backend))
        where, params = self._where(names, row)
        self._run(f"UPDATE {{q}}{table} SET {column} = ? WHERE {where}", [new, *params])
        return f"{table}.{column} changed from {_short(old)} to {_short(new)}"

    def damage_read_model_row_deleted(self) -> str:
        return self._delete_row(heads=False)

    def damage_read_model_row_inserted(self) -> str:
        return self._insert_row(heads=False)

    def damage_read_model_row_altered(self) -> str:
        return self._alter_row(heads=False)

    def damage_head_deleted(self) -> str:
        return self._delete_row(heads=True)

    def damage_head_inserted(self) -> str:
        return self._insert_row(heads=True)

    def damage_head_altered(self) -> str:
        return self._alter_row(heads=True)


DAMAGE_KINDS = sorted(
    name.removeprefix("damage_") for name in vars(Tamperer) if name.startswith("damage_")
)
LOG_KINDS = {kind for kind in DAMAGE_KINDS if not kind.startswith(("read_model", "head"))}

COLUMNS = {
    "gs_session_state": [
        "stream_id",
        "session_key",
        "version",
        "data",
        "expires_at",
        "wait_user_key",
        "wait_scope_key",
        "wait_user_id",
        "wait_scope",
        "wait_version",
        "head_hash",
    ],
    "gs_scope_index": ["scope_key", "session_key", "expires_at"],
    "gs_user_waits": ["user_key", "stream_id", "session_key", "expires_at", "position"],
    "gs_stream_heads": ["stream_id", "session_key", "version", "hash"],
    "gs_scope_history": [
        "scope_key",
        "stream_id",
        "session_key",
        "version",
        "kind",
        "recorded_at",
        "near_miss",
        "position",
    ],
    "gs_session_index": [
        "stream_id",
        "session_key",
        "env",
        "tenant",
        "team",
        "user_id",
        "flow",
        "conversation",
        "display",
        "conversation_display",
        "status",
        "waiting",
        "version",
        "updated_at",
        "expires_at",
    ],
}
_KEYS = {
    "gs_session_state": ["stream_id"],
    "gs_scope_index": ["scope_key"],
    "gs_user_waits": ["user_key", "stream_id"],
    "gs_stream_heads": ["stream_id"],
    "gs_scope_history": ["scope_key", "stream_id", "version"],
    "gs_session_index": ["stream_id"],
}
"""Each table's primary key."""


def _table_of(names: list[str]) -> str:
    (table,) = (table for table, columns in COLUMNS.items() if columns == names)
    return table


def _variants(value: Any, backend: str) -> list[Any]:
    """Other values a column could be given: of its type, of another, or none."""
    out: list[Any] = [None]
    if isinstance(value, bool) or value is None:
        out += [0, "x", 1]
    elif isinstance(value, int):
        out += [value + 1, value - 1, 0, -value]
        if backend == "sqlite":
            out += [str(value), float(value), value + 0.5]
    elif isinstance(value, str):
        out += [value + "x", value[:-1], value.upper(), "", value.replace("node", "nope")]
        if backend == "sqlite":
            out += [value.encode(), 7]
    return [v for v in out if v != value or type(v) is not type(value)]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."
