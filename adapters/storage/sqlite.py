"""`sqlite:///path`: the library's SQLite log, read models in tables of the same file."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from greentic_session.adapters.storage.encryption import content_sealer
from greentic_session.adapters.storage.library_seams import insert_sqlite_events
from greentic_session.adapters.storage.log_access import (
    LOG_BATCH,
    MAX_VERSION,
    ArchiveWriter,
    BuildChanges,
    BuildReadModels,
    EndedStream,
    ImportedReadModels,
    LogSnapshot,
    StreamWrite,
    log_not_empty,
)
from greentic_session.adapters.storage.session_log import OpenedLog, SessionLog, read_model_changes
from greentic_session.adapters.storage.sql_lookups import SqlLookups
from greentic_session.adapters.storage.sql_reader import (
    SqlReadModelReader,
    holds,
    read_all,
    select_rows,
    stored_rows,
    write_read_models,
)
from greentic_session.adapters.storage.sql_tables import SqlReadModels
from greentic_session.adapters.storage.sql_tombstones import (
    TOMBSTONES_TABLE,
    SqlTombstones,
    decoded,
    ended_streams,
    readable,
    still_ended,
)
from greentic_session.domain.audit import ArchivedStream
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.state import stream_id
from greentic_session.projections.changes import Change
from greentic_session.projections.read_model_rows import ReadModelRows, StoredRow, UnreadableRow
from greentic_session.projections.read_models import MemoryReadModels

EVENTS_TABLE = "stored_events"  # the library's default name for it
COMPACT_TIMEOUT = 30.0  # seconds `compact` waits for the database's locks
_CHECKPOINT = "PRAGMA wal_checkpoint(TRUNCATE)"


def sqlite_tables() -> SqlReadModels:
    return SqlReadModels(
        qualifier="",
        placeholder="?",
        event_position=(
            f"(SELECT rowid FROM {EVENTS_TABLE} WHERE originator_id = ? AND originator_version = ?)"
        ),
        stream_param=lambda stream: stream.hex,  # the library stores UUIDs as hex text here
        events_table=EVENTS_TABLE,
    )


def zeroes_deletes(connection: sqlite3.Connection) -> bool:
    """Whether this SQLite zeroes what a delete or an update frees by default
    (`secure_delete`, a build option): a new connection's setting is the default."""
    (on,) = connection.execute("PRAGMA secure_delete").fetchone()
    return bool(on)


class SQLiteSessionRecorder(SQLiteApplicationRecorder):
    """Writes the read-model changes in the transaction that inserts the events."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = EVENTS_TABLE) -> None:
        self.tables = sqlite_tables()
        self.tombstone_sql = SqlTombstones(qualifier="", placeholder="?")
        self.path = ""  # the database file (`open_sqlite_log` sets it)
        super().__init__(datastore, events_table_name=events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            *self.tables.create_statements,
            self.tombstone_sql.create,
        ]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert, then the read-model changes, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            return self._append(c, stored_events, read_model_changes(kwargs))

    def _append(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], changes: list[Change]
    ) -> list[int]:
        positions = insert_sqlite_events(self, c, stored_events)
        for statement, params in self.tables.statements(changes):
            c.execute(statement, params)
        return positions

    def locked_write(self, session_key: str, write: StreamWrite) -> None:
        """The first DELETE (of no row) takes the database's write lock: no writer commits
        between the reads and the append. Every read is on this transaction's cursor (the
        library's pool holds new readers back while writers queue)."""
        stream = stream_id(session_key)
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {self.tables.projection_tables[0]} WHERE stream_id = ''")
            lookup = SqlLookups(self.tables).session_state(session_key)
            c.execute(lookup.statement, lookup.params)
            state = lookup.decode(c.fetchall())
            tombstones: list[ArchivedStream] = []
            if _has_table(c, TOMBSTONES_TABLE):
                c.execute(self.tombstone_sql.select_stream, (str(stream),))
                tombstones = readable(c.fetchall())
            c.execute(
                f"{self.log_query} WHERE originator_id = ? ORDER BY originator_version",
                (stream.hex,),
            )
            notifications = [self.notification(row) for row in c.fetchall()]
            events, changes = write(state, tombstones, notifications)
            if events:
                c.execute("PRAGMA secure_delete")
                (before,) = c.fetchone()
                c.execute("PRAGMA secure_delete = ON")  # what the write frees is zeroed
                self._append(c, events, changes)
                c.execute(f"PRAGMA secure_delete = {int(before)}")

    def import_log(
        self,
        batches: Iterable[Sequence[StoredEvent]],
        read_models: ImportedReadModels,
        tombstones: Callable[[], list[ArchivedStream]] = list,
    ) -> None:
        """One transaction on the writer's connection: the library's insert for each batch
        (assumption 1), then the read models in `executemany` batches. A writer that got
        in after the emptiness check makes the first insert fail (SQLite refuses to turn a
        stale read into a write), so nothing is imported on top of it."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"SELECT 1 FROM {self.events_table_name} LIMIT 1")
            if c.fetchone() is not None:
                raise log_not_empty()
            for batch in batches:
                insert_sqlite_events(self, c, batch)
            for statement, rows in self.tables.in_bulk(read_models()):
                c.executemany(statement, rows)
            if archived := tombstones():
                c.execute(self.tombstone_sql.create)
                c.executemany(self.tombstone_sql.insert, self.tombstone_sql.insert_rows(archived))

    # -- archive -------------------------------------------------------------------

    def tombstones(self) -> list[ArchivedStream]:
        with self.datastore.transaction(commit=False) as c:
            if not _has_table(c, TOMBSTONES_TABLE):
                return []
            c.execute(self.tombstone_sql.select_all)
            return readable(c.fetchall())

    def stream_tombstones(self, stream: UUID) -> list[ArchivedStream]:
        with self.datastore.transaction(commit=False) as c:
            if not _has_table(c, TOMBSTONES_TABLE):
                return []
            c.execute(self.tombstone_sql.select_stream, (str(stream),))
            return readable(c.fetchall())

    def ended_streams(self, after: str, limit: int) -> list[EndedStream]:
        """The archive's first call creates the tombstones table of a store made before it."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.tombstone_sql.create)
            if not after and self.tables.scope_history_ready:
                c.execute(self.tombstone_sql.scope_history_index)
            c.execute(self.tombstone_sql.select_ended, (after, limit))
            return ended_streams(c.fetchall())

    def archive_streams(self, ended: list[EndedStream], write: ArchiveWriter) -> int:
        """The first DELETE (of no row) takes the write lock: no write lands between the
        check of the heads and the deletion."""
        sql = self.tombstone_sql
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {sql.table} WHERE stream_id = ''")
            kept = still_ended(c, sql.recheck, ended)

            def events_of(stream: EndedStream) -> list[Notification]:
                c.execute(
                    f"{self.log_query} WHERE originator_id = ? ORDER BY originator_version",
                    (stream_id(stream.session_key).hex,),
                )
                return [self.notification(row) for row in c.fetchall()]

            archived = write(kept, events_of)
            c.executemany(sql.insert, sql.insert_rows(archived))
            deleted = 0
            for tombstone in archived:
                stream_uuid = stream_id(tombstone.session_key)
                c.execute(
                    f"DELETE FROM {self.events_table_name} WHERE originator_id = ?",
                    (stream_uuid.hex,),
                )
                deleted += tombstone.events  # read in this transaction: all of them
            for statement, streams in sql.derived_rows(archived, self.tables):
                c.execute(statement, streams)
            return deleted

    def prepare_erasure(self) -> None:
        if self.tables.scope_history_ready:
            with self.datastore.transaction(commit=True) as c:
                c.execute(self.tombstone_sql.scope_history_index)

    def compact(self) -> None:
        """The WAL copied into the file and emptied (its frames held the rows as they were
        written). The erasure's own writes zero what they free (`secure_delete`, set for
        its transaction), and so do every write's on a SQLite built with `secure_delete`
        on by default, as Debian's is: then nothing else holds an old row and that is all.
        Built without it, earlier deletes may have left rows in free space: the file is
        rebuilt (VACUUM, which rewrites the whole file) and its WAL emptied again. On a
        connection of its own, outside any transaction, waiting up to `COMPACT_TIMEOUT`
        for other connections' locks. Another process still reading the database then
        keeps the checkpoint from finishing: `SessionError(unavailable)`; an erasure by key
        run again compacts again."""
        with closing(sqlite3.connect(self.path, timeout=COMPACT_TIMEOUT)) as connection:
            connection.isolation_level = None
            statements = [_CHECKPOINT]
            if not zeroes_deletes(connection):
                statements += ["VACUUM", _CHECKPOINT]
            for statement in statements:
                busy, _, _ = connection.execute(statement).fetchone() or (0, 0, 0)
                if busy:
                    raise SessionError(
                        ErrorCode.UNAVAILABLE,
                        "the erasure is committed, but another connection to the database "
                        "kept its old pages from being overwritten; close the other "
                        "processes using it, then erase one of the erased sessions by key "
                        "again (it erases nothing more, and compacts the file)",
                    )

    def rename_archive(self, digests: list[str], digest: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(self.tombstone_sql.rename_archive, [(digest, old) for old in digests])

    def stream_notifications(self, stream: UUID, up_to: int | None = None) -> list[Notification]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"{self.log_query} WHERE originator_id = ? AND originator_version <= ? "
                "ORDER BY originator_version",
                (stream.hex, MAX_VERSION if up_to is None else up_to),
            )
            return [self.notification(row) for row in c.fetchall()]

    def first_notifications(self, limit: int) -> list[Notification]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{self.log_query} ORDER BY rowid LIMIT ?", (limit,))
            return [self.notification(row) for row in c.fetchall()]

    @contextmanager
    def log_snapshot(self) -> Iterator[LogSnapshot]:
        """One read transaction: in WAL mode it sees the database as of its first read,
        and writers are never blocked by it."""
        with self.datastore.transaction(commit=False) as c:
            yield _Snapshot(self, c)

    def replace_read_models(self, build: BuildReadModels) -> None:
        """The first DELETE takes the write lock, so no write lands between read and rewrite."""
        with self.datastore.transaction(commit=True) as c:
            for table in self.tables.projection_tables:
                c.execute(f"DELETE FROM {table}")
            models = build(_Snapshot(self, c))
            write_read_models(c, self.tables, models)

    def ensure_late_tables(self, build: BuildChanges) -> list[str]:
        """The first `CREATE TABLE` takes the write lock before the log is read: no write
        lands between the read and the fill. A read-only file, or another process that
        created them first, fails the `CREATE`: the tables' presence then decides."""
        missing = []
        for table in self.tables.late_tables:
            present = self._has_table(table.name)
            self.tables.set_ready(table.name, present)
            if not present:
                missing.append(table)
        if not missing:
            return []
        try:
            with self.datastore.transaction(commit=True) as c:
                for table in missing:
                    for statement in table.create:
                        c.execute(statement)
                    self.tables.set_ready(table.name, True)
                kinds = tuple(table.fills for table in missing)
                changes = build(_Snapshot(self, c).notifications(), kinds)
                for statement, params in self.tables.statements(changes):
                    c.execute(statement, params)
        except PersistenceError:
            for table in missing:
                self.tables.set_ready(table.name, self._has_table(table.name))
        except BaseException:
            for table in missing:
                self.tables.set_ready(table.name, False)
            raise
        return [table.name for table in self.tables.late_tables if not table.ready]

    def _has_table(self, name: str) -> bool:
        with self.datastore.transaction(commit=False) as c:
            return _has_table(c, name)

    @property
    def log_query(self) -> str:
        return (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name}"
        )

    def notification(self, row: Sequence[Any]) -> Notification:
        """A row as the library's notification; a stream id that is not one is kept as
        stored, for `verify` to report (SQLite holds whatever an editor writes)."""
        position, originator_id, version, topic, state = row
        try:
            stream = self.convert_originator_id(originator_id)
        except (ValueError, TypeError, AttributeError):
            stream = originator_id
        return Notification(
            id=position,
            originator_id=stream,
            originator_version=version,
            topic=topic,
            state=state,
        )


class _Snapshot:
    """The log and the stored rows read on `cursor`, inside the caller's transaction."""

    def __init__(self, recorder: SQLiteSessionRecorder, cursor: SQLiteCursor) -> None:
        self._recorder = recorder
        self._cursor = cursor

    def count(self) -> int:
        self._cursor.execute(f"SELECT COUNT(*) FROM {self._recorder.events_table_name}")
        (count,) = self._cursor.fetchone()
        return int(count)

    def notifications(self) -> Iterator[Notification]:
        """A page at a time by position, each page one statement of the same transaction."""
        recorder, after = self._recorder, 0
        while True:
            self._cursor.execute(
                f"{recorder.log_query} WHERE rowid > ? ORDER BY rowid LIMIT {LOG_BATCH}",
                (after,),
            )
            page = [recorder.notification(row) for row in self._cursor.fetchall()]
            yield from page
            if len(page) < LOG_BATCH:
                return
            after = page[-1].id

    def rows(self, model: ReadModelRows) -> Iterator[StoredRow]:
        tables = self._recorder.tables
        self._cursor.execute(select_rows(tables, model))
        yield from stored_rows(iter(self._cursor.fetchone, None), model, tables.sealer)

    def holds(self, model: ReadModelRows) -> bool:
        return holds(self._recorder.tables, model)

    def tombstones(self) -> Iterator[ArchivedStream | UnreadableRow]:
        if not _has_table(self._cursor, TOMBSTONES_TABLE):
            return
        self._cursor.execute(self._recorder.tombstone_sql.select_all)
        yield from decoded(self._cursor.fetchall())


def _has_table(cursor: SQLiteCursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return bool(cursor.fetchall())


class SQLiteReadModelReader(SqlReadModelReader):
    """Each lookup is one indexed SELECT on a pooled connection (WAL: never blocked by writers)."""

    def __init__(self, datastore: SQLiteDatastore, tables: SqlReadModels) -> None:
        super().__init__(tables)
        self._datastore = datastore

    def fetch(self, statement: str, params: tuple[Any, ...]) -> list[Sequence[Any]]:
        with self._datastore.get_connection(commit=False) as connection:
            cursor = connection.cursor()
            cursor.execute(statement, params)
            rows: list[Sequence[Any]] = cursor.fetchall()
            return rows

    def load_all(self) -> MemoryReadModels:
        with self._datastore.transaction(commit=False) as cursor:
            return read_all(cursor, self.tables)


def open_sqlite_log(
    path: str, log_settings: Mapping[str, str], *, create_tables: bool = True
) -> OpenedLog:
    """`create_tables`: False when they exist, so that opening runs no DDL."""
    log = SessionLog(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "APPLICATION_RECORDER_TOPIC": f"{__name__}:SQLiteSessionRecorder",
            "CREATE_TABLE": "y" if create_tables else "n",
            **log_settings,
        }
    )
    recorder = log.recorder
    assert isinstance(recorder, SQLiteSessionRecorder)
    recorder.path = path
    recorder.tables.sealer = content_sealer(log.mapper.cipher)
    reader = SQLiteReadModelReader(recorder.datastore, recorder.tables)
    return OpenedLog(log, reader, recorder)
