"""What the store assumes of the eventsourcing library's PostgreSQL side.

Assumptions 2 (the retry loop stripped), 3 (the store's pool instead of the library's),
10 (the pool's connection arguments), and the PostgreSQL parts of 4 (the table's name)
and 5 (the events table's columns), as numbered in `adapters/storage/library_seams.py`;
each test fails naming its assumption and seam. Most run on the library's objects with
no server (the settings point nowhere); the events table is checked on a fresh schema of
the PostgreSQL server (marked `postgres`). The helpers are in `tests/library_assumptions.py`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any, get_origin

import psycopg
import pytest
from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import (
    ConnectionPool,
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from psycopg import Connection, sql
from psycopg.rows import dict_row

from greentic_session.adapters.storage.library_seams import (
    LibraryChanged,
    connection_kwargs,
    postgres_events_table,
    replace_pool,
    without_retry,
)
from greentic_session.adapters.storage.postgres import (
    COPY_COLUMNS,
    COPY_TYPES,
    PostgresSessionRecorder,
)
from greentic_session.adapters.storage.postgres_pool import recovering_pool
from greentic_session.adapters.storage.postgres_schema import EVENTS_TABLE
from greentic_session.adapters.storage.session_log import SessionLog
from greentic_session.adapters.storage.sql_tables import READ_MODEL_TABLES
from tests.conftest import with_schema
from tests.library_assumptions import broken

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


def test_the_postgres_log_replaces_the_pool_before_any_recorder_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store's log swaps the pool through the seam as the factory is built, before
    the recorder's constructor (which connects) runs."""
    from greentic_session.adapters.storage import postgres

    def spy(datastore: PostgresDatastore, rebuild: Any) -> None:
        raise Seen(datastore.pool.closed, "(no recorder yet)", datastore)

    monkeypatch.setattr(postgres, "replace_pool", spy)
    topic = f"{__name__}:{SpyPostgresRecorder.__qualname__}"
    with pytest.raises(Seen) as seen:
        postgres.PostgresSessionLog(
            {**POSTGRES_SETTINGS, "APPLICATION_RECORDER_TOPIC": topic}, "dbname=nowhere", 0
        )
    assert seen.value.events_table_name == "(no recorder yet)", (
        "PostgresSessionLog replaces the pool only once the recorder is being built"
    )
    assert seen.value.pool_closed, "PostgresSessionLog replaces the pool after it opened"


# -- 10. PostgreSQL: the pool's connection arguments -----------------------------------------


def test_postgres_pool_connects_with_the_five_settings_as_kwargs_and_no_conninfo() -> None:
    seam = "library_seams.connection_kwargs"
    library_pool = spied_postgres_construction().datastore.pool
    assert library_pool.conninfo == "", broken(
        10, seam, f"the library gives its pool a conninfo: {library_pool.conninfo!r}"
    )
    kwargs = library_pool.kwargs
    assert isinstance(kwargs, dict), broken(10, seam, "the pool's kwargs are not a dict")
    assert set(kwargs) == {"dbname", "host", "port", "user", "password", "row_factory"}, broken(
        10, seam, f"the pool's kwargs are {sorted(kwargs)}"
    )
    assert kwargs["row_factory"] is dict_row, broken(10, seam, "the library reads other rows")
    keys = frozenset({"dbname", "host", "port", "user", "password"})
    assert connection_kwargs(library_pool, keys) == {"row_factory": dict_row}


def test_the_store_pool_connects_with_the_store_conninfo_alone() -> None:
    """What the library said where to connect is gone: the URL's string decides, and
    what it leaves out libpq takes from the `PG*` variables."""
    datastore = spied_postgres_construction().datastore
    conninfo = "dbname=elsewhere application_name=probe"
    pool = recovering_pool(datastore.pool, datastore.after_connect_func(), conninfo)
    assert pool.conninfo == conninfo
    assert isinstance(pool.kwargs, dict)
    assert set(pool.kwargs) == {"row_factory", "connect_timeout"}


def test_connection_kwargs_refuses_a_pool_with_a_conninfo_of_its_own() -> None:
    pool = ConnectionPool[Any]("dbname=x", kwargs={}, open=False)
    with pytest.raises(LibraryChanged, match="assumption 10"):
        connection_kwargs(pool, frozenset({"dbname"}))


# -- 4. table names --------------------------------------------------------------------------


def test_postgres_events_table_is_named_after_the_application() -> None:
    seam = "library_seams.postgres_events_table"
    seen = spied_postgres_construction()
    assert seen.events_table_name == postgres_events_table(SessionLog.name) == EVENTS_TABLE, broken(
        4, seam, f"the factory names the table {seen.events_table_name!r}"
    )


# -- 5. events tables -------------------------------------------------------------------------


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


@pytest.mark.postgres
def test_postgres_events_table_takes_the_imports_binary_copy_in_row_order(pg_dsn: str) -> None:
    from greentic_session import open_store

    seam = "postgres.py (PostgresSessionRecorder.import_log)"
    schema = f"t_{uuid.uuid4().hex[:16]}"
    table = sql.Identifier(schema, EVENTS_TABLE)
    streams = [uuid.uuid4() for _ in range(3)]
    try:
        open_store(with_schema(pg_dsn, schema)).close()
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            copy_in = sql.SQL("COPY {} ({}) FROM STDIN BINARY").format(table, sql.SQL(COPY_COLUMNS))
            with connection.cursor() as cursor, cursor.copy(copy_in) as copy:
                copy.set_types(COPY_TYPES)
                for stream in streams:
                    copy.write_row((stream, 1, "topic", b"state"))
            rows = connection.execute(
                sql.SQL("SELECT originator_id FROM {} ORDER BY notification_id").format(table)
            ).fetchall()
    except psycopg.Error as exc:
        pytest.fail(broken(5, seam, f"a binary COPY of {COPY_TYPES} fails: {exc}"))
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
    assert [stream for (stream,) in rows] == streams, broken(
        5, seam, "the bigserial no longer numbers copied rows in order"
    )
