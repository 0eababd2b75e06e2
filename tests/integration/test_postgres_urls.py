"""PostgreSQL URLs read as libpq reads them, as psql and every psycopg user expect: any
libpq parameter in the query string reaches every connection, what the URL leaves out
comes from the `PG*` variables, and a password never shows in an error or a log line."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from psycopg import sql

from greentic_session import ErrorCode, SessionError
from tests.conftest import open_store, with_schema
from tests.integration.persistence import CTX
from tests.support import make_data

SOCKET_FOLDER = "/var/run/postgresql"
PASSWORD = "s3cr3t-Pw-zq9"


@pytest.fixture
def schema_url(pg_dsn: str) -> Iterator[str]:
    """The test server's URL with a fresh schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield with_schema(pg_dsn, schema)
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


@pytest.fixture
def socket_url(schema_url: str) -> str:
    """`schema_url` with no host: what reaches it must come from a `host=` or `PGHOST`."""
    if not Path(SOCKET_FOLDER, ".s.PGSQL.5432").exists():
        pytest.skip(f"no PostgreSQL socket in {SOCKET_FOLDER}")
    parts = urlsplit(schema_url)
    user = parts.username or "postgres"
    return f"postgresql://{user}@{parts.path}?{parts.query}"


def backends_named(pg_dsn: str, application: str) -> list[tuple[str | None]]:
    """The client address of each connection to the server with that application name
    (NULL for a Unix socket), once the pool has opened at least one."""
    deadline = time.monotonic() + 10
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        while True:
            rows = connection.execute(
                "SELECT client_addr::text FROM pg_stat_activity"
                " WHERE application_name = %s AND pid <> pg_backend_pid()",
                (application,),
            ).fetchall()
            if rows or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


def new_name() -> str:
    return f"gs_{uuid.uuid4().hex[:12]}"


@pytest.mark.postgres
def test_libpq_parameters_in_the_url_reach_the_pooled_connections(
    schema_url: str, pg_dsn: str
) -> None:
    application = new_name()
    url = f"{schema_url}&application_name={application}&sslmode=prefer&pool_size=2"
    with open_store(url) as store:
        key = store.create_session(CTX, make_data(CTX))
        assert store.get_session(key) == make_data(CTX)
        assert len(backends_named(pg_dsn, application)) >= 1


@pytest.mark.postgres
def test_a_socket_folder_as_host_in_the_query_string_connects_through_the_socket(
    socket_url: str, pg_dsn: str
) -> None:
    application = new_name()
    url = f"{socket_url}&host={quote(SOCKET_FOLDER, safe='')}&application_name={application}"
    with open_store(url) as store:
        store.create_session(CTX, make_data(CTX))
        assert set(backends_named(pg_dsn, application)) == {(None,)}  # no address: a socket


@pytest.mark.postgres
def test_a_url_without_host_takes_pghost_pguser_and_pgappname_from_the_environment(
    socket_url: str, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = new_name()
    parts = urlsplit(socket_url)
    monkeypatch.setenv("PGHOST", SOCKET_FOLDER)
    monkeypatch.setenv("PGUSER", parts.username or "postgres")
    monkeypatch.setenv("PGAPPNAME", application)
    with open_store(f"postgresql://{parts.path}?{parts.query}") as store:
        store.create_session(CTX, make_data(CTX))
        assert set(backends_named(pg_dsn, application)) == {(None,)}


def test_pghost_is_where_a_url_without_host_connects(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No server needed: an empty folder has no socket, and the error names it."""
    monkeypatch.setenv("PGHOST", str(tmp_path))
    with pytest.raises(SessionError) as caught:
        open_store("postgresql://postgres@/gs_no_such_db?connect_timeout=2")
    assert caught.value.code is ErrorCode.UNAVAILABLE
    assert str(tmp_path / ".s.PGSQL.5432") in caught.value.message


def test_pgport_is_the_port_of_a_url_that_names_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPORT", "1")
    with pytest.raises(SessionError) as caught:
        open_store("postgresql://postgres@127.0.0.1/gs_no_such_db?connect_timeout=2")
    assert caught.value.code is ErrorCode.UNAVAILABLE
    assert "cannot reach PostgreSQL at 127.0.0.1:1" in caught.value.message


@pytest.mark.postgres
@pytest.mark.parametrize("where", ["url", "PGSSLMODE"])
def test_sslmode_reaches_libpq_from_the_url_or_pgsslmode(
    where: str, schema_url: str, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(pg_dsn) as connection:
        row = connection.execute("SHOW ssl").fetchone()
    if row is None or row[0] != "off":
        pytest.skip("the test server speaks SSL: `sslmode=require` would just work")
    url = schema_url if where == "PGSSLMODE" else f"{schema_url}&sslmode=require"
    if where == "PGSSLMODE":
        monkeypatch.setenv("PGSSLMODE", "require")
    with pytest.raises(SessionError) as caught:
        open_store(url)
    assert "server does not support SSL" in caught.value.message


def test_our_own_options_are_not_passed_to_libpq_and_unknown_ones_are_invalid_input() -> None:
    with pytest.raises(SessionError) as caught:
        open_store("postgresql://postgres@127.0.0.1:1/x?schema=s&pool_size=2&colour=blue")
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert "colour" in caught.value.message and "schema" in caught.value.message


def test_a_url_naming_no_database_is_invalid_input_even_with_a_socket_host() -> None:
    with pytest.raises(SessionError) as caught:
        open_store(f"postgresql://postgres@?host={quote(SOCKET_FOLDER, safe='')}")
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert "names no database" in caught.value.message


# -- no password in an error or a log line ---------------------------------------------------


def failed_open(url: str, caplog: pytest.LogCaptureFixture) -> SessionError:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SessionError) as caught:
        open_store(url)
    return caught.value


def assert_no_password(error: SessionError, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(error), repr(error), caplog.text]
    cause: BaseException | None = error
    while cause is not None:
        texts.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    leaked = [text for text in texts if PASSWORD in text]
    assert not leaked, f"the password shows in: {leaked}"


def test_no_password_shows_when_the_host_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = failed_open(f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test", caplog)
    assert error.code is ErrorCode.UNAVAILABLE
    assert_no_password(error, caplog)


@pytest.mark.postgres
def test_no_password_shows_when_the_server_refuses_the_login(
    pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The local server trusts every login, so a wrong password cannot be refused: a
    database that does not exist is, with the password sent all the same."""
    parts = urlsplit(pg_dsn)
    url = f"postgresql://{parts.username or 'postgres'}:{PASSWORD}@{parts.hostname}:"
    error = failed_open(f"{url}{parts.port or 5432}/{new_name()}", caplog)
    assert error.code is ErrorCode.NOT_FOUND
    assert_no_password(error, caplog)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://postgres:{PASSWORD} x@127.0.0.1:1/test",
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:99999/test",
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test?colour=blue",
        f"postgresql://postgres@127.0.0.1:1/test?password={PASSWORD}%20x&colour=blue",
        f"mysql://root:{PASSWORD}@localhost/db",
    ],
)
def test_no_password_shows_when_the_url_is_refused(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    error = failed_open(url, caplog)
    assert error.code is ErrorCode.INVALID_INPUT
    assert_no_password(error, caplog)
