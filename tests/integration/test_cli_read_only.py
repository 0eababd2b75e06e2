"""Reading never creates: the tool's read commands, and `open_store(url, create=False)`,
pointed at a URL with no store, say so and leave nothing behind."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from greentic_session import ErrorCode, open_store
from greentic_session.adapters.storage.sql_tables import HEADS_KEY_INDEX
from tests.conftest import with_schema
from tests.support import make_ctx, make_data, raises_code, run_console_script

CALLER = ("--env", "dev", "--tenant", "tenant-a", "--user", "alice")
READ_COMMANDS = {
    "history": ("history", "some-key"),
    "show": ("show", "some-key"),
    "diff": ("diff", "some-key", "1", "2"),
    "waits": ("waits", *CALLER),
    "explain": ("explain", *CALLER, "--conversation", "chat-42"),
    "verify": ("verify",),
    "export": ("export", "-"),
    "sessions": ("sessions", "--tenant", "tenant-a"),
    "tail": ("tail", "--tenant", "tenant-a"),
}
NO_STORE = "error: not_found: no store at "


def read(command: str, url: str) -> tuple[int, str]:
    done = run_console_script(*READ_COMMANDS[command], "--url", url)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stderr


@pytest.mark.parametrize("command", sorted(READ_COMMANDS))
def test_a_read_command_on_a_missing_sqlite_file_is_not_found_and_creates_nothing(
    tmp_path: Path, command: str
) -> None:
    url = f"sqlite:///{tmp_path / 'typo.db'}"
    status, err = read(command, url)
    assert (status, err.splitlines()) == (1, [err.rstrip("\n")])
    assert err.startswith(f"{NO_STORE}{url} (no such file)")
    assert list(tmp_path.iterdir()) == []


def test_a_read_command_on_an_empty_sqlite_file_is_not_found_and_adds_no_table(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    status, err = read("verify", f"sqlite:///{empty}")
    assert status == 1 and err.startswith(NO_STORE)
    assert empty.stat().st_size == 0


def test_open_store_without_create_raises_not_found_for_a_missing_sqlite_file(
    tmp_path: Path,
) -> None:
    with raises_code(ErrorCode.NOT_FOUND):
        open_store(f"sqlite:///{tmp_path / 'missing.db'}", create=False)
    assert list(tmp_path.iterdir()) == []


def test_open_store_without_create_refuses_memory_which_never_holds_a_store() -> None:
    with raises_code(ErrorCode.NOT_FOUND):
        open_store("memory://", create=False)


def test_open_store_without_create_reads_an_existing_store_and_runs_no_ddl(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    ctx = make_ctx(user="alice")
    with open_store(url) as store:
        key = store.create_session(ctx, make_data(ctx, node="there"))
    with closing(sqlite3.connect(tmp_path / "store.db")) as connection:
        connection.execute(f"DROP INDEX {HEADS_KEY_INDEX}")  # as in a store of an older version
    with open_store(url, create=False) as store:
        data = store.get_session(key)
        assert data is not None and data.cursor.node_pointer == "there"
    with closing(sqlite3.connect(tmp_path / "store.db")) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert HEADS_KEY_INDEX not in names


# -- PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
def schema(pg_dsn: str) -> Iterator[str]:
    """A schema name nobody created (dropped afterwards, should a command create it)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def with_password(dsn: str, password: str) -> str:
    """The server trusts local users: a password in the URL is never checked."""
    parts = urlsplit(dsn)
    user = parts.username or "postgres"
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


def relations_in(dsn: str, schema: str) -> list[str] | None:
    """The schema's tables and indexes, or None when the schema does not exist."""
    with psycopg.connect(dsn) as connection:
        found = connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
        if found.fetchone() is None:
            return None
        rows = connection.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s",
            (schema,),
        ).fetchall()
    return sorted(row[0] for row in rows)


@pytest.mark.postgres
@pytest.mark.parametrize("command", sorted(READ_COMMANDS))
def test_a_read_command_on_a_missing_postgres_schema_is_not_found_and_creates_nothing(
    pg_dsn: str, schema: str, command: str
) -> None:
    url = with_schema(with_password(pg_dsn, "s3cret-pw"), schema)
    status, err = read(command, url)
    assert status == 1 and err.startswith(NO_STORE), err
    assert "s3cret-pw" not in err and f"schema={schema}" in err
    assert relations_in(pg_dsn, schema) is None


@pytest.mark.postgres
def test_a_read_command_on_an_empty_postgres_schema_is_not_found_and_adds_no_table(
    pg_dsn: str, schema: str
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    status, err = read("waits", with_schema(pg_dsn, schema))
    assert status == 1 and err.startswith(NO_STORE), err
    assert relations_in(pg_dsn, schema) == []


@pytest.mark.postgres
def test_a_write_still_creates_the_postgres_store(pg_dsn: str, schema: str) -> None:
    ctx = make_ctx(user="alice")
    with open_store(with_schema(pg_dsn, schema)) as store:
        store.create_session(ctx, make_data(ctx))
    with open_store(with_schema(pg_dsn, schema), create=False) as store:
        assert store.verify().ok
