"""The PostgreSQL schema: who creates it, and what the role that runs the store may do.

A store opened by a role that may create tables creates them on first use. In production
`greentic-session setup --grant-to ROLE` creates them as their owner instead and grants
the runtime role rows only: it reads and appends the log (never updates or deletes it)
and reads and writes the read models, with no right to create, alter or drop anything.
Opening an existing schema then needs no DDL at all. Archiving deletes events from the
log, so only the owner can run it; the runtime role reads the tombstones it leaves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from greentic_session.adapters.storage.database_errors import as_session_error, error_code
from greentic_session.adapters.storage.library_seams import postgres_events_table
from greentic_session.adapters.storage.session_log import SessionLog
from greentic_session.adapters.storage.sql_session_index import SESSION_INDEX_TABLE
from greentic_session.adapters.storage.sql_tables import READ_MODEL_TABLES, SCOPE_HISTORY_TABLE
from greentic_session.adapters.storage.sql_tombstones import TOMBSTONES_TABLE, SqlTombstones
from greentic_session.domain.errors import ErrorCode, SessionError, invalid_input

EVENTS_TABLE = postgres_events_table(SessionLog.name)  # the library names the log's table
HEADS_TABLE = "gs_stream_heads"
# The key of a store's PostgreSQL settings that holds its libpq connection string: every
# parameter of the URL (its password too), nothing libpq reads from `PG*` variables.
CONNINFO = "conninfo"

# Any fixed number: processes opening a new database take turns creating its tables.
_SETUP_LOCK = 0x67726E74
_INSUFFICIENT_PRIVILEGE = "42501"


def schema_of(settings: Mapping[str, str]) -> str:
    return settings.get("POSTGRES_SCHEMA") or "public"


def connect(settings: Mapping[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    """A direct connection that fails fast with the server's own reason (a pool would
    only time out), in the category of that reason (see `database_errors`)."""
    conninfo = settings[CONNINFO]
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        where = address(conninfo)
        if error_code(exc) is not ErrorCode.UNAVAILABLE:
            raise as_session_error(exc, f"connecting to PostgreSQL at {where}") from exc
        raise SessionError(
            ErrorCode.UNAVAILABLE,
            f"cannot reach PostgreSQL at {where}: {exc}; "
            "check the URL and that the server is running",
        ) from exc


def address(conninfo: str) -> str:
    """Where libpq connects, for messages: the URL's host and port, else `PGHOST` and
    `PGPORT`, else libpq's defaults (the local socket, 5432). Never the password."""
    params = conninfo_to_dict(conninfo)
    host = str(params.get("host") or os.environ.get("PGHOST") or "the local socket")
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    return f"{host}:{port}"


@contextmanager
def schema_to_create(settings: Mapping[str, str], *, create: bool = True) -> Iterator[bool]:
    """Whether the store's tables must still be created; while they are, an advisory lock
    keeps other processes opening the same new database from racing to create them.
    `create=False` only answers, with no lock and no DDL."""
    schema = schema_of(settings)
    with connect(settings) as connection:
        if _tables_exist(connection, schema):
            yield False
            return
        if not create:
            yield True
            return
        connection.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
        with refused_ddl():
            connection.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )
        with refused_ddl():
            yield True


@contextmanager
def refused_ddl() -> Iterator[None]:
    """A role without the right to create tables gets told how to set the schema up."""
    try:
        yield
    except Exception as exc:
        if _sqlstate(exc) != _INSUFFICIENT_PRIVILEGE:
            raise
        raise SessionError(
            ErrorCode.PERMISSION_DENIED,
            "the store's tables do not exist and this role may not create them; "
            "create them once as their owner: greentic-session setup --url <owner's URL> "
            "--grant-to <this role>",
        ) from exc


def add_missing_indexes(settings: Mapping[str, str], indexes: Mapping[str, str]) -> list[str]:
    """Create the indexes (name: its `CREATE INDEX IF NOT EXISTS` statement) that are
    missing, as in a schema set up by an earlier version: a store whose tables exist opens
    without DDL, so only `setup`, run as the owner, adds them. Returns the statements run."""
    schema = schema_of(settings)
    done: list[str] = []
    with connect(settings) as connection:
        for name, statement in indexes.items():
            qualified = sql.Identifier(schema, name).as_string(connection)
            found = connection.execute("SELECT to_regclass(%s)", (qualified,)).fetchone()
            if found is None or found[0] is None:
                connection.execute(statement.encode())
                done.append(statement)
    return done


def grant_runtime_role(settings: Mapping[str, str], role: str) -> list[str]:
    """Rows only: append and read the log, read and write the read models (the session
    index's rows are upserted, and deleted by a rebuild); heads are upserted, never
    deleted; scope-history rows are appended, never updated (deleted only by a rebuild).
    Returns the statements run."""
    schema = schema_of(settings)

    def table(name: str) -> sql.Composable:
        return sql.Identifier(schema, name)

    grantee = sql.Identifier(role)
    statements = [
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), grantee),
        sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(table(EVENTS_TABLE), grantee),
        sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(table(HEADS_TABLE), grantee),
        *(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(table(name), grantee)
            for name in READ_MODEL_TABLES
        ),
        sql.SQL("GRANT SELECT, INSERT, DELETE ON {} TO {}").format(
            table(SCOPE_HISTORY_TABLE), grantee
        ),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
            table(SESSION_INDEX_TABLE), grantee
        ),
        # Tombstones: read only; archiving (which deletes from the log) is the owner's.
        sql.SQL("GRANT SELECT ON {} TO {}").format(table(TOMBSTONES_TABLE), grantee),
    ]
    done: list[str] = []
    with connect(settings) as connection, connection.transaction():
        known = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if known.fetchone() is None:
            raise invalid_input(f"role {role!r} does not exist: CREATE ROLE it first")
        qualifier = sql.Identifier(schema).as_string(connection) + "."
        connection.execute(SqlTombstones(qualifier=qualifier, placeholder="%s").create.encode())
        sequence = connection.execute(
            "SELECT pg_get_serial_sequence(%s, 'notification_id')",
            (sql.Identifier(schema, EVENTS_TABLE).as_string(connection),),
        ).fetchone()
        if sequence is not None and isinstance(sequence[0], str):
            statements.append(
                sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(sql.SQL(sequence[0]), grantee)
            )
        for statement in statements:
            connection.execute(statement)
            done.append(statement.as_string(connection))
    return done


def _tables_exist(connection: psycopg.Connection[tuple[object, ...]], schema: str) -> bool:
    names = [EVENTS_TABLE, HEADS_TABLE, *READ_MODEL_TABLES]
    qualified = [sql.Identifier(schema, name).as_string(connection) for name in names]
    row = connection.execute(
        "SELECT count(to_regclass(name)) FROM unnest(%s::text[]) AS name", (qualified,)
    ).fetchone()
    return row is not None and row[0] == len(names)


def _sqlstate(exc: BaseException | None) -> str | None:
    """The server's error code, also when the library wrapped the driver's error."""
    while exc is not None:
        state = getattr(exc, "sqlstate", None)
        if isinstance(state, str):
            return state
        exc = exc.__cause__
    return None
