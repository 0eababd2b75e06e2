"""What the store assumes of the eventsourcing library's SQLite side, on SQLite files.

Assumption 1 (events inserted in the caller's transaction), and the SQLite parts of 4 (the
table's name) and 5 (the events table's columns), as numbered in
`adapters/storage/library_seams.py`; each test fails naming its assumption and seam. The
helpers are in `tests/library_assumptions.py`.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from greentic_session.adapters.storage import library_seams, sqlite
from greentic_session.adapters.storage.library_seams import insert_sqlite_events
from greentic_session.adapters.storage.session_log import READ_MODEL_CHANGES, SessionLog
from greentic_session.adapters.storage.sql_tables import READ_MODEL_TABLES
from tests.library_assumptions import (
    broken,
    positional_names,
    stored,
    takes_var_keyword,
)

# -- 1. SQLite: events inserted in the caller's transaction ---------------------------------


def test_sqlite_insert_events_writes_in_the_callers_transaction(tmp_path: Path) -> None:
    seam = "library_seams.insert_sqlite_events"
    private = SQLiteApplicationRecorder._insert_events
    assert len(positional_names(private)) == 3, broken(  # (self, cursor, stored_events)
        1, seam, f"SQLiteApplicationRecorder._insert_events{inspect.signature(private)}"
    )
    assert takes_var_keyword(private), broken(1, seam, "_insert_events takes no **kwargs")

    datastore = SQLiteDatastore(str(tmp_path / "log.db"))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    stream = uuid.uuid4()
    with datastore.transaction(commit=False) as cursor:
        positions = insert_sqlite_events(recorder, cursor, [stored(stream, 1), stored(stream, 2)])
        cursor.execute("SELECT count(*) FROM stored_events")
        assert cursor.fetchone()[0] == 2, broken(1, seam, "nothing inserted on the cursor")
    assert not recorder.max_notification_id(), broken(
        1, seam, "the events were committed apart from the caller's transaction"
    )
    with datastore.transaction(commit=True) as cursor:
        positions = insert_sqlite_events(recorder, cursor, [stored(stream, 1), stored(stream, 2)])
    notifications = recorder.select_notifications(None, 10)
    assert [n.id for n in notifications] == positions, broken(
        1, seam, f"positions {positions} are not the rowids {[n.id for n in notifications]}"
    )
    assert [n.originator_version for n in notifications] == [1, 2]
    datastore.close()


@pytest.fixture
def sqlite_log(tmp_path: Path) -> Iterator[SessionLog]:
    """The log of a SQLite store, as `open_store` builds it."""
    log = SessionLog(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "store.db"),
            "APPLICATION_RECORDER_TOPIC": f"{sqlite.__name__}:SQLiteSessionRecorder",
            "CREATE_TABLE": "y",
        }
    )
    yield log
    log.close()


def test_the_sqlite_recorder_appends_through_the_seam(sqlite_log: SessionLog) -> None:
    """The store's recorder reaches the library's insert only through the seam."""
    calls: list[int] = []
    seam = library_seams.insert_sqlite_events

    def spy(recorder: Any, cursor: Any, events: Sequence[StoredEvent]) -> list[int]:
        calls.append(len(events))
        return seam(recorder, cursor, events)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sqlite, "insert_sqlite_events", spy)
        sqlite_log.recorder.insert_events([stored(uuid.uuid4(), 1)], **{READ_MODEL_CHANGES: []})
    assert calls == [1], "SQLiteSessionRecorder.insert_events no longer goes through the seam"


# -- 4. table names --------------------------------------------------------------------------


def test_the_sqlite_factory_leaves_the_table_name_to_the_recorder(sqlite_log: SessionLog) -> None:
    seam = "sqlite.EVENTS_TABLE (the recorder's default)"
    recorder = sqlite_log.recorder
    assert isinstance(recorder, SQLiteApplicationRecorder)
    assert recorder.events_table_name == sqlite.EVENTS_TABLE, broken(
        4, seam, f"the factory gave the table name {recorder.events_table_name!r}"
    )
    default = inspect.signature(SQLiteApplicationRecorder.__init__).parameters
    assert default["events_table_name"].default == sqlite.EVENTS_TABLE, broken(
        4, seam, "the library's default table name changed: existing stores name the old one"
    )


# -- 5. events tables -------------------------------------------------------------------------

EVENT_COLUMNS = ["originator_id", "originator_version", "topic", "state"]


def test_events_tables_have_the_columns_the_backends_read(sqlite_log: SessionLog) -> None:
    seam = "sqlite.py (its SQL)"
    recorder = sqlite_log.recorder
    assert isinstance(recorder, sqlite.SQLiteSessionRecorder)
    stream = uuid.uuid4()
    positions = recorder.insert_events([stored(stream, 1)], **{READ_MODEL_CHANGES: []})
    assert positions is not None
    (position,) = positions
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"PRAGMA table_info({sqlite.EVENTS_TABLE})")
        columns = [row[1] for row in cursor.fetchall()]
        assert columns == EVENT_COLUMNS, broken(5, seam, f"the events table has {columns}")
        cursor.execute(f"SELECT rowid, originator_id FROM {sqlite.EVENTS_TABLE}")
        assert tuple(cursor.fetchone()) == (position, stream.hex), broken(
            5, seam, "positions are not rowids, or stream ids not hex text"
        )
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {row[0] for row in cursor.fetchall()}
    assert set(READ_MODEL_TABLES) <= tables, broken(
        5, seam, "create_table() no longer runs construct_create_table_statements()"
    )
