"""What the store assumes of the eventsourcing library, one test per assumption.

The assumptions are those numbered in `adapters/storage/library_seams.py`; each test is
named after one and fails naming it and its seam, so an upgrade of the library that breaks
one says which, and where to look. The last tests check that no module but the seam
touches a private name of the library, and that this check sees what it should.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import inspect
import pkgutil
import re
import sys
import textwrap
import tomllib
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, get_origin

import eventsourcing
import psycopg
import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    EventStore,
    OperationalError,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import (
    ConnectionPool,
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from psycopg import Connection, sql

import greentic_session
from greentic_session.adapters.storage import library_seams, sqlite
from greentic_session.adapters.storage.library_seams import (
    insert_sqlite_events,
    postgres_events_table,
    replace_pool,
    without_retry,
)
from greentic_session.adapters.storage.postgres import PostgresSessionRecorder
from greentic_session.adapters.storage.postgres_schema import EVENTS_TABLE
from greentic_session.adapters.storage.session_log import READ_MODEL_CHANGES, SessionLog
from greentic_session.adapters.storage.sql_tables import READ_MODEL_TABLES
from greentic_session.domain.aggregate import Session
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.operation import Operation
from greentic_session.domain.state import stream_id
from tests.conftest import with_schema
from tests.support import make_ctx, make_data

ROOT = Path(__file__).resolve().parents[2]
SEAM = ROOT / "adapters" / "storage" / "library_seams.py"
LAYERS = ("domain", "projections", "adapters")
LIBRARY_RANGE = ">=9.5.6,<9.6"
"""The range the seams were written and checked against. Widen it in pyproject.toml and
here only once these tests pass on the new versions."""

NOW = datetime(2030, 1, 1, tzinfo=UTC)
CTX = make_ctx(user="alice")
DATA = make_data(CTX)


def broken(number: int, seam: str, what: str) -> str:
    """The message of a failed assumption: its number in `library_seams`, its seam, what
    the library no longer does."""
    return (
        f"eventsourcing {importlib.metadata.version('eventsourcing')} breaks assumption "
        f"{number} of adapters/storage/library_seams.py (seam: {seam}): {what}"
    )


def stored(stream: uuid.UUID, version: int) -> StoredEvent:
    return StoredEvent(originator_id=stream, originator_version=version, topic="t", state=b"{}")


def positional_names(function: Any) -> list[str]:
    parameters = inspect.signature(function).parameters.values()
    return [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]


def takes_var_keyword(function: Any) -> bool:
    parameters = inspect.signature(function).parameters.values()
    return any(p.kind is p.VAR_KEYWORD for p in parameters)


# -- the version range ----------------------------------------------------------------------


def test_the_installed_library_is_inside_the_range_in_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [d for d in project["dependencies"] if re.match(r"eventsourcing\b", d)]
    assert len(specs) == 1, f"pyproject.toml names eventsourcing once, not {specs}"
    spec = SpecifierSet(specs[0].removeprefix("eventsourcing").strip())
    assert spec == SpecifierSet(LIBRARY_RANGE), (
        f"pyproject.toml asks for eventsourcing{spec}, but the seams in library_seams.py "
        f"were checked against {LIBRARY_RANGE}: run these tests on the new versions, then "
        "update LIBRARY_RANGE here"
    )
    installed = Version(importlib.metadata.version("eventsourcing"))
    assert installed in spec, f"eventsourcing {installed} is installed, outside {spec}"


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


# -- 2. PostgreSQL: the library's methods without its retry loop ----------------------------


class FailingDatastore:
    """Fails every connection, counting the attempts."""

    schema = "public"

    def __init__(self) -> None:
        self.attempts = 0

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[Any]:
        self.attempts += 1
        raise OperationalError("server gone")
        yield  # pragma: no cover


class RecorderOnFailingDatastore:
    events_table_name = "t"
    max_notification_id_statement = "SELECT 1"

    def __init__(self) -> None:
        self.datastore = FailingDatastore()


@pytest.mark.parametrize("name", ["select_notifications", "max_notification_id"])
def test_postgres_reads_have_a_retry_to_strip(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seam = "library_seams.without_retry"
    wrapped = getattr(PostgresApplicationRecorder, name)
    inner = getattr(wrapped, "__wrapped__", None)
    assert callable(inner), broken(2, seam, f"PostgresApplicationRecorder.{name} has no wrapper")
    wrapper = wrapped.__code__.co_qualname
    assert wrapper.startswith("retry."), broken(
        2, seam, f"{name} is wrapped by {wrapper}, not eventsourcing.utils.retry"
    )
    assert without_retry(wrapped) is inner
    assert getattr(PostgresSessionRecorder, name) is inner, (
        f"PostgresSessionRecorder.{name} is not the library's without its retry"
    )
    monkeypatch.setattr("eventsourcing.utils.sleep", lambda seconds: None)
    arguments = (None, 10) if name == "select_notifications" else ()

    with_retry = RecorderOnFailingDatastore()
    with pytest.raises(OperationalError):
        wrapped(with_retry, *arguments)
    assert with_retry.datastore.attempts > 1, broken(
        2, seam, f"{name} no longer retries: nothing to strip"
    )

    stripped = RecorderOnFailingDatastore()
    with pytest.raises(OperationalError):
        inner(stripped, *arguments)
    assert stripped.datastore.attempts == 1, broken(
        2, seam, f"{name} retries without its decorator ({stripped.datastore.attempts} attempts)"
    )


# -- 3. PostgreSQL: the store's pool instead of the library's -------------------------------

POSTGRES_SETTINGS = {
    "PERSISTENCE_MODULE": "eventsourcing.postgres",
    "POSTGRES_DBNAME": "nowhere",
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "1",
    "POSTGRES_USER": "nobody",
    "POSTGRES_PASSWORD": "",
    "POSTGRES_CONNECT_TIMEOUT": "3",
    "POSTGRES_POOL_SIZE": "2",
    "POSTGRES_MAX_OVERFLOW": "3",
    "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
    "CREATE_TABLE": "n",
}


class Seen(Exception):
    """Raised by `SpyPostgresRecorder` once it saw what it came for (no server is asked)."""

    def __init__(self, pool_closed: bool, events_table_name: str, datastore: Any) -> None:
        super().__init__()
        self.pool_closed = pool_closed
        self.events_table_name = events_table_name
        self.datastore = datastore


class SpyPostgresRecorder(PostgresApplicationRecorder):
    """What the factory hands our recorder's constructor, before the library's runs."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str) -> None:
        raise Seen(datastore.pool.closed, events_table_name, datastore)


def spied_postgres_construction() -> Seen:
    topic = f"{__name__}:{SpyPostgresRecorder.__qualname__}"
    with pytest.raises(Seen) as seen:
        SessionLog({**POSTGRES_SETTINGS, "APPLICATION_RECORDER_TOPIC": topic})
    return seen.value


class StubPool(ConnectionPool[Any]):
    """A pool that never connects and says when it was asked for a connection."""

    def open(self, wait: bool = False, timeout: float = 30.0) -> None:
        pass

    def getconn(self, timeout: float | None = None) -> Any:
        raise LookupError("the stub pool was asked")


def test_postgres_pool_is_replaceable_before_it_opens() -> None:
    seam = "library_seams.replace_pool"
    seen = spied_postgres_construction()
    assert seen.pool_closed, broken(
        3, seam, "the pool is open before the recorder's constructor runs"
    )
    datastore: PostgresDatastore = seen.datastore
    library_pool = datastore.pool
    assert isinstance(library_pool, ConnectionPool), broken(3, seam, "no library pool")
    settings = {
        "timeout": 3.0,
        "min_size": 2,
        "max_size": 5,
        "max_waiting": 0,
        "max_lifetime": 3600.0,
    }
    found = {name: getattr(library_pool, name, None) for name in settings}
    assert found == settings, broken(3, seam, f"the pool's settings are {found}")
    assert isinstance(library_pool.kwargs, dict), broken(3, seam, "the pool's kwargs")
    assert library_pool.kwargs["dbname"] == "nowhere", broken(3, seam, "the pool's kwargs")
    connection_class = get_origin(library_pool.connection_class) or library_pool.connection_class
    assert issubclass(connection_class, Connection), broken(3, seam, "the connection class")

    class SetUpConnection:
        def __init__(self) -> None:
            self.autocommit = False
            self.statements: list[str] = []

        def cursor(self) -> SetUpConnection:
            return self

        def execute(self, statement: sql.Composable) -> None:
            self.statements.append(statement.as_string(None))

    handed: list[Any] = []

    def rebuild(pool: ConnectionPool[Any], set_up: Any) -> ConnectionPool[Any]:
        handed.extend([pool, set_up])
        return StubPool(open=False)

    replace_pool(datastore, rebuild)
    assert handed[0] is library_pool
    connection = SetUpConnection()
    handed[1](connection)
    assert connection.autocommit, broken(3, seam, "after_connect_func() sets no autocommit")
    assert any("idle_in_transaction_session_timeout" in s for s in connection.statements), broken(
        3, seam, "after_connect_func() sets no idle-in-transaction timeout"
    )
    with pytest.raises(LookupError, match="stub pool"), datastore.get_connection():
        pass  # pragma: no cover
    assert isinstance(datastore.pool, StubPool), broken(
        3, seam, "get_connection() takes connections from another pool than datastore.pool"
    )


def test_the_postgres_recorder_replaces_the_pool_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's recorder swaps the pool through the seam, before the library's
    constructor (which connects) runs."""
    from greentic_session.adapters.storage import postgres

    def spy(datastore: PostgresDatastore, rebuild: Any) -> None:
        raise Seen(datastore.pool.closed, "", datastore)

    monkeypatch.setattr(postgres, "replace_pool", spy)
    topic = f"{postgres.__name__}:{PostgresSessionRecorder.__qualname__}"
    with pytest.raises(Seen) as seen:
        SessionLog({**POSTGRES_SETTINGS, "APPLICATION_RECORDER_TOPIC": topic})
    assert seen.value.pool_closed, "PostgresSessionRecorder replaces the pool after it opened"


# -- 4. table names --------------------------------------------------------------------------


def test_postgres_events_table_is_named_after_the_application() -> None:
    seam = "library_seams.postgres_events_table"
    seen = spied_postgres_construction()
    assert seen.events_table_name == postgres_events_table(SessionLog.name) == EVENTS_TABLE, broken(
        4, seam, f"the factory names the table {seen.events_table_name!r}"
    )


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


@pytest.mark.postgres
def test_postgres_events_table_has_the_columns_the_backend_reads(pg_dsn: str) -> None:
    from greentic_session import open_store

    seam = "postgres.py (its SQL)"
    schema = f"t_{uuid.uuid4().hex[:16]}"
    try:
        open_store(with_schema(pg_dsn, schema)).close()
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT column_name, data_type, column_default FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema, EVENTS_TABLE),
            ).fetchall()
            tables = connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            ).fetchall()
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
    types = {name: kind for name, kind, _ in rows}
    assert types == {
        "originator_id": "uuid",
        "originator_version": "bigint",
        "topic": "text",
        "state": "bytea",
        "notification_id": "bigint",
    }, broken(5, seam, f"the events table has {types}")
    default = next(default for name, _, default in rows if name == "notification_id")
    assert default is not None and "nextval" in default, broken(
        5, seam, "notification_id is no longer a bigserial"
    )
    assert set(READ_MODEL_TABLES) <= {name for (name,) in tables}, broken(
        5, seam, "create_table() no longer runs sql_create_statements"
    )


# -- 6. keyword arguments ride along ---------------------------------------------------------


class KeywordSpy(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.seen.append(kwargs)
        return super().insert_events(stored_events, **kwargs)


def test_event_store_put_hands_its_keyword_arguments_to_the_recorder() -> None:
    log = SessionLog({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    spy = KeywordSpy()
    store = EventStore(mapper=log.mapper, recorder=spy)
    session = Session.start(CTX, SessionKey("k1"), DATA, Operation(NOW))
    changes: list[object] = [object()]
    store.put(session.collect_events(), **{READ_MODEL_CHANGES: changes})
    assert len(spy.seen) == 1 and spy.seen[0].get(READ_MODEL_CHANGES) is changes, broken(
        6, "EventStore.put, used by unit_of_work", f"the recorder got {spy.seen}"
    )


# -- 7. POPO positions -----------------------------------------------------------------------


def test_popo_insert_events_returns_the_positions() -> None:
    seam = "memory.MemorySessionRecorder"
    recorder: ApplicationRecorder = POPOApplicationRecorder()
    first, second = uuid.uuid4(), uuid.uuid4()
    assert recorder.insert_events([stored(first, 1), stored(second, 1)]) == [1, 2], broken(
        7, seam, "insert_events returns no positions"
    )
    assert recorder.insert_events([stored(first, 2)]) == [3], broken(7, seam, "positions")
    (notification,) = recorder.select_notifications(3, 1)
    assert (notification.id, notification.originator_id) == (3, first), broken(
        7, seam, "select_notifications(start, limit) does not start at the position"
    )
    assert recorder.max_notification_id() == 3


# -- 8. the public constructor ---------------------------------------------------------------


class Thing(Aggregate):
    """An aggregate whose id, like a session's, derives from its key."""

    def __init__(self, key: str, *, note: str) -> None:
        self.key = key
        self.note = note

    @staticmethod
    def create_id(key: str) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, key)


def test_calling_the_aggregate_class_triggers_its_created_event() -> None:
    seam = "Session.start (domain/aggregate.py)"
    thing = Thing(key="a", note="n")
    (created,) = thing.pending_events
    assert isinstance(created, Thing.Created), broken(8, seam, "no created event")
    assert (created.originator_version, thing.version) == (1, 1), broken(8, seam, "version")
    assert thing.id == Thing.create_id("a"), broken(8, seam, "the id is not create_id's")
    assert (getattr(created, "key", None), getattr(created, "note", None)) == ("a", "n")
    with pytest.raises(TypeError):
        Thing(key="a", note="n", other=1)  # type: ignore[call-arg]

    session = Session.start(CTX, SessionKey("k1"), DATA, Operation(NOW, {"trace_id": "t"}))
    (event,) = session.pending_events
    assert isinstance(event, Session.Created), broken(8, seam, "Session.start: no Created")
    assert session.id == event.originator_id == stream_id("k1"), broken(
        8, seam, "Session.start lands on another stream than its key's"
    )
    assert (event.timestamp, event.trace, event.hash) == (
        NOW,
        {"trace_id": "t"},
        session.head_hash,
    ), broken(8, seam, "the created event lost the envelope it was given")
    assert event.content_hash() == event.hash


# -- 9. snapshots ----------------------------------------------------------------------------


def test_snapshots_rebuild_an_aggregate_from_a_state() -> None:
    seam = "Session.restore (domain/aggregate.py)"
    thing = Thing(key="a", note="n")
    state = Aggregate.Snapshot.take(thing).state
    assert {"key", "note"} <= set(state), broken(9, seam, "the snapshot lacks attributes")
    assert not {"id", "_id", "version", "_version", "_pending_events"} & set(state), broken(
        9, seam, f"the snapshot's state holds id, version or pending events: {sorted(state)}"
    )
    rebuilt = Aggregate.Snapshot(
        originator_id=thing.id,
        originator_version=7,
        timestamp=NOW,
        topic=f"{__name__}:Thing",
        state={**state, "note": "changed"},
    ).mutate(None)
    assert isinstance(rebuilt, Thing), broken(9, seam, "mutate(None) built no aggregate")
    assert (rebuilt.id, rebuilt.version, rebuilt.note) == (thing.id, 7, "changed"), broken(
        9, seam, "mutate(None) did not take the snapshot's id, version and state"
    )
    assert rebuilt.pending_events == [], broken(9, seam, "a rebuilt aggregate has events")


def test_a_restored_session_is_the_replayed_one() -> None:
    seam = "Session.restore (domain/aggregate.py)"
    op = Operation(NOW)
    session = Session.start(CTX, SessionKey("k1"), DATA, op)
    session.update(DATA, op)
    replayed: Any = None
    for event in session.collect_events():
        replayed = event.mutate(replayed)
    restored = Session.restore(session.state())
    assert restored.state() == session.state() == replayed.state()
    assert (restored.id, restored.version, restored.pending_events) == (session.id, 2, []), broken(
        9, seam, "restored at another id or version, or with pending events"
    )
    assert sorted(vars(restored)) == sorted(vars(replayed)), broken(
        9, seam, "a restored session has other attributes than a replayed one"
    )
    restored.update(DATA, op)
    (event,) = restored.pending_events
    assert event.originator_version == 3 and getattr(event, "prev_hash", None) == (
        session.head_hash
    ), broken(9, seam, "a restored session does not continue its stream")


# -- the seams are the only place that touches the library's private names ------------------

PYTHON_DUNDERS = frozenset(
    name
    for kind in (
        object,
        type,
        int,
        list,
        dict,
        property,
        BaseException,
        type(lambda: None),
        type(iter([])),
        contextlib.AbstractContextManager,
    )
    for name in dir(kind)
) | {"__post_init__", "__signature__", "__set_name__", "__del__", "__delete__", "__wrapped__"}
"""Python's own special names: the library defining one of them is no private name of it."""

UNDOCUMENTED_HOOKS = {
    "__wrapped__": re.compile(r"__wrapped__"),
    "unwrap": re.compile(r"\bunwrap\b"),
    ".pool =": re.compile(r"\.pool\s*=(?!=)"),
    "after_connect_func": re.compile(r"\bafter_connect_func\b"),
}
"""Undocumented parts of the library that are not private names: the retry decorator's
`__wrapped__` (or `inspect.unwrap` to reach it), the datastore's pool swapped, the
library's connection set-up."""

ISSUE_NAMES = {
    "_assert_uniqueness",
    "_update_table",
    "_stored_events",
    "_stored_events_index",
    "_database_lock",
    "_insert_events",
    "_create",
    "__base_init__",
}
"""The private names the issue found used with no guard."""


def _is_private(name: str) -> bool:
    return name.startswith("_") and name not in PYTHON_DUNDERS


def _self_stores(tree: ast.AST) -> set[str]:
    """Attributes assigned on `self` or `cls` in `tree`."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("self", "cls")
    }


@cache
def library_private_names() -> frozenset[str]:
    """Every private name the library's source binds: private functions, methods, classes
    and module names, attributes it assigns, and its own special names (`__base_init__`)."""
    names: set[str] = set()
    for path in Path(eventsourcing.__file__).parent.rglob("*.py"):
        if "tests" in path.relative_to(Path(eventsourcing.__file__).parent).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return frozenset(name for name in names if _is_private(name))


@cache
def library_attributes(cls: type) -> frozenset[str]:
    """The library's private names a library class has: on the class, and assigned on its
    objects by the library's code."""
    names = set(dir(cls))
    for base in cls.__mro__:
        if base.__module__.split(".")[0] == "eventsourcing":
            with contextlib.suppress(OSError, TypeError, SyntaxError):
                names |= _self_stores(ast.parse(textwrap.dedent(inspect.getsource(base))))
    return frozenset(names & library_private_names())


def _classes_of(module: ModuleType) -> Iterator[type]:
    """The classes the module defines, nested ones included."""
    pending = [v for v in vars(module).values() if isinstance(v, type)]
    while pending:
        cls = pending.pop()
        if cls.__module__ != module.__name__:
            continue
        yield cls
        pending += [v for v in vars(cls).values() if isinstance(v, type)]


def _class_source(cls: type) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return None


def touches_of_the_library(path: Path, module: ModuleType) -> list[str]:
    """Where `path` (the source of `module`) touches a private or undocumented part of the
    library: "line: what" for each.

    - an attribute `x._name` read or written whose name is private to the library and
      that no class of ours binds on itself (ours may share a name with the library's);
    - a class of ours, derived from a library class, that defines or assigns a private
      name that library class has (an override of, or write into, its internals);
    - an undocumented hook of `UNDOCUMENTED_HOOKS`.
    """
    source = path.read_text()
    tree = ast.parse(source)
    library = library_private_names()
    ours = _self_stores(tree) | {
        statement.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for statement in node.body
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    found = [
        f"{path.name}:{node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in library and node.attr not in ours
    ]
    for cls in _classes_of(module):
        bases = [b for b in cls.__mro__[1:] if b.__module__.split(".")[0] == "eventsourcing"]
        if not bases:
            continue
        theirs = frozenset().union(*(library_attributes(b) for b in bases))
        class_tree = _class_source(cls)
        defined = set(vars(cls)) | (_self_stores(class_tree) if class_tree else set())
        found += [
            f"{path.name}: {cls.__qualname__} defines .{name} of {bases[0].__qualname__}"
            for name in sorted(defined & theirs)
        ]
    for hook, pattern in UNDOCUMENTED_HOOKS.items():
        for match in pattern.finditer(source):
            found.append(f"{path.name}:{source.count(chr(10), 0, match.start()) + 1}: {hook}")
    return found


def source_files() -> list[Path]:
    return sorted(path for layer in LAYERS for path in (ROOT / layer).rglob("*.py"))


def module_of(path: Path) -> ModuleType:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return importlib.import_module(".".join(["greentic_session", *parts]))


def test_no_module_but_the_seam_touches_a_private_name_of_the_library() -> None:
    files = [path for path in source_files() if path != SEAM]
    touches = [touch for path in files for touch in touches_of_the_library(path, module_of(path))]
    assert touches == [], (
        "private or undocumented parts of eventsourcing are reached outside "
        "adapters/storage/library_seams.py; reach them through a seam there, and state "
        "the assumption in its docstring and in this file:\n  " + "\n  ".join(touches)
    )


def test_the_scan_reads_every_module_of_the_three_layers() -> None:
    files = {path.resolve() for path in source_files()}
    imported = {
        Path(str(importlib.import_module(info.name).__file__)).resolve()
        for info in pkgutil.walk_packages(greentic_session.__path__, "greentic_session.")
        if info.name.split(".")[1] in LAYERS
    } | {
        Path(str(importlib.import_module(f"greentic_session.{layer}").__file__)).resolve()
        for layer in LAYERS
    }
    assert files == imported, (
        f"the scan reads {len(files)} files, the package has {len(imported)} modules: "
        f"{sorted(map(str, files ^ imported))}"
    )
    assert len(files) >= 50, f"only {len(files)} source files found under {ROOT}"
    assert SEAM.resolve() in files


def test_the_library_names_include_those_the_issue_found() -> None:
    missing = ISSUE_NAMES - library_private_names()
    assert not missing, f"the scan of the library's source misses {sorted(missing)}"
    attributes = library_attributes(POPOApplicationRecorder)
    assert {"_database_lock", "_stored_events", "_update_table"} <= attributes


def test_the_scan_finds_what_the_seam_holds() -> None:
    touches = "\n".join(touches_of_the_library(SEAM, library_seams))
    for held in ("._insert_events", "__wrapped__", ".pool =", "after_connect_func"):
        assert held in touches, f"the scan does not see {held} in the seam:\n{touches}"


OLD_USES = """
import inspect
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder


class Memory(POPOApplicationRecorder):
    def _assert_uniqueness(self, stored_events, **kwargs):
        super()._assert_uniqueness(stored_events, **kwargs)

    def _update_table(self, stored_events, **kwargs):
        return super()._update_table(stored_events, **kwargs)

    def snapshot(self):
        with self._database_lock:
            return self._stored_events, self._stored_events_index


class Sqlite(SQLiteApplicationRecorder):
    def _insert_events(self, c, stored_events, **kwargs):
        return super()._insert_events(c, stored_events, **kwargs)


class Postgres(PostgresApplicationRecorder):
    select_notifications = inspect.unwrap(PostgresApplicationRecorder.select_notifications)

    def __init__(self, datastore, *, events_table_name):
        datastore.pool = None
        super().__init__(datastore, events_table_name=events_table_name)


def start(cls, event_class):
    return cls._create(event_class)


def restore(cls, state):
    session = cls.__new__(cls)
    session.__base_init__(state.id, state.version, state.now)
    return session
"""


def test_the_scan_catches_the_uses_the_seams_replaced(tmp_path: Path) -> None:
    path = tmp_path / "old_uses.py"
    path.write_text(OLD_USES)
    spec = importlib.util.spec_from_file_location("old_uses", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_uses"] = module
    try:
        spec.loader.exec_module(module)
        touches = "\n".join(touches_of_the_library(path, module))
    finally:
        del sys.modules["old_uses"]
    for name in sorted(ISSUE_NAMES):
        assert f".{name}" in touches, f"the scan misses {name}:\n{touches}"
    for hook in ("unwrap", ".pool ="):
        assert hook in touches, f"the scan misses {hook}:\n{touches}"
    assert "Memory defines ._update_table" in touches and "Sqlite defines ._insert_events" in (
        touches
    )


def test_a_class_of_ours_may_share_a_private_name_with_an_unrelated_library_class() -> None:
    """`Session._record` is ours: the library's `_record` is `Application`'s."""
    assert "_record" in library_private_names()
    assert "_record" not in library_attributes(Aggregate)
    assert not [
        touch
        for touch in touches_of_the_library(
            ROOT / "domain" / "aggregate.py", module_of(ROOT / "domain" / "aggregate.py")
        )
    ]


def test_dataclass_fields_of_the_created_event_stay_what_the_log_holds() -> None:
    """The Created event's fields are the 0.1.0 log's: naming the envelope in `__init__`
    (for the public constructor, assumption 8) added none."""
    assert [f.name for f in dataclasses.fields(Session.Created)] == [
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
        "trace",
        "prev_hash",
        "hash",
        "session_key",
        "data",
    ]
