"""The PostgreSQL schema: who creates it, and what the role that runs the store may do.

A store opened by a role that may create tables creates them on first use. In production
`greentic-session setup --grant-to ROLE` creates them as their owner instead and grants
the runtime role rows only: it reads and appends the log (never updates or deletes it)
and reads and writes the read models, with no right to create, alter or drop anything.
Opening an existing schema then needs no DDL at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from psycopg import sql

from greentic_session.adapters.storage.library_seams import postgres_events_table
from greentic_session.adapters.storage.session_log import SessionLog
from greentic_session.adapters.storage.sql_tables import READ_MODEL_TABLES, SCOPE_HISTORY_TABLE
from greentic_session.domain.errors import ErrorCode, SessionError, invalid_input

EVENTS_TABLE = postgres_events_table(SessionLog.name)  # the library names the log's table
HEADS_TABLE = "gs_stream_heads"

# Any fixed number: processes opening a new database take turns creating its tables.
_SETUP_LOCK = 0x67726E74
_INSUFFICIENT_PRIVILEGE = "42501"


def schema_of(settings: Mapping[str, str]) -> str:
    return settings.get("POSTGRES_SCHEMA") or "public"


def connect(settings: Mapping[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    """A direct connection that fails fast with the server's own reason (a pool would
    only time out)."""
    try:
        return psycopg.connect(
            dbname=settings["POSTGRES_DBNAME"],
            host=settings["POSTGRES_HOST"],
            port=settings["POSTGRES_PORT"],
            user=settings["POSTGRES_USER"],
            password=settings["POSTGRES_PASSWORD"],
            connect_timeout=int(float(settings["POSTGRES_CONNECT_TIMEOUT"])),
            autocommit=True,
        )
    except psycopg.OperationalError as exc:
        raise SessionError(
            ErrorCode.UNAVAILABLE,
            f"cannot reach PostgreSQL at {settings['POSTGRES_HOST']}:{settings['POSTGRES_PORT']}"
            f": {exc}; check the URL and that the server is running",
        ) from exc


@contextmanager
def schema_to_create(settings: Mapping[str, str]) -> Iterator[bool]:
    """Whether the store's tables must still be created; while they are, an advisory lock
    keeps other processes opening the same new database from racing to create them."""
    schema = schema_of(settings)
    with connect(settings) as connection:
        if _tables_exist(connection, schema):
            yield False
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


def grant_runtime_role(settings: Mapping[str, str], role: str) -> list[str]:
    """Rows only: append and read the log, read and write the read models; heads are
    upserted, never deleted; scope-history rows are appended, never updated (deleted only
    by a rebuild). Returns the statements run."""
    schema = schema_of(settings)

    def table(name: str) -> sql.Composable:
        return sql.Identifier(schema, name)

    grantee = sql.Identifier(role)
    statements = [
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), grantee),
        sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(table(EVENTS_TABLE), grantee),
        sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(table(HEADS_TABLE), grantee),
        *(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                table(name), grantee
            )
            for name in READ_MODEL_TABLES
        ),
        sql.SQL("GRANT SELECT, INSERT, DELETE ON {} TO {}").format(
            table(SCOPE_HISTORY_TABLE), grantee
        ),
    ]
    done: list[str] = []
    with connect(settings) as connection, connection.transaction():
        known = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if known.fetchone() is None:
            raise invalid_input(f"role {role!r} does not exist: CREATE ROLE it first")
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
