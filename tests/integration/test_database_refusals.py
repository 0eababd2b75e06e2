"""When the PostgreSQL server answers, its answer decides the category, never
`unavailable`: a database or role that does not exist, a statement it refuses, a lock it
gave up waiting for. Each is told with the server's own reason."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from greentic_session import ErrorCode, SessionError, SessionStore
from tests.conftest import open_store
from tests.integration.persistence import CTX
from tests.support import make_data

pytestmark = pytest.mark.postgres


def refusal(url: str) -> SessionError:
    with pytest.raises(SessionError) as caught:
        open_store(url).close()
    return caught.value


def with_part(dsn: str, *, user: str | None = None, dbname: str | None = None) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if user is not None:
        netloc = f"{user}@{netloc.rpartition('@')[2]}"
    path = parts.path if dbname is None else f"/{dbname}"
    return urlunsplit(parts._replace(netloc=netloc, path=path))


def test_a_database_that_does_not_exist_is_not_found_with_the_server_reason(
    pg_dsn: str,
) -> None:
    name = f"gs_missing_{uuid.uuid4().hex[:8]}"
    error = refusal(with_part(pg_dsn, dbname=name))
    assert error.code is ErrorCode.NOT_FOUND
    assert f'database "{name}" does not exist' in error.message
    assert isinstance(error.__cause__, psycopg.OperationalError)


def test_a_role_that_does_not_exist_is_unauthenticated_with_the_server_reason(
    pg_dsn: str,
) -> None:
    name = f"gs_nobody_{uuid.uuid4().hex[:8]}"
    error = refusal(with_part(pg_dsn, user=name))
    assert error.code is ErrorCode.UNAUTHENTICATED
    assert f'role "{name}" does not exist' in error.message


def test_a_role_that_may_not_log_in_is_unauthenticated(pg_dsn: str) -> None:
    role = f"gs_nologin_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" NOLOGIN')
    try:
        error = refusal(with_part(pg_dsn, user=role))
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(f'DROP ROLE "{role}"')
    assert error.code is ErrorCode.UNAUTHENTICATED
    assert "is not permitted to log in" in error.message


@pytest.fixture
def read_only_store(store_url: str) -> Iterator[SessionStore]:
    """A store whose every transaction the server makes read-only (libpq `options`)."""
    open_store(store_url).close()  # its tables, created by a writable connection
    options = quote("-c default_transaction_read_only=on", safe="")
    with open_store(f"{store_url}&options={options}") as store:
        yield store


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_statement_the_server_refuses_mid_operation_is_internal_with_its_cause(
    read_only_store: SessionStore,
) -> None:
    with pytest.raises(SessionError) as caught:
        read_only_store.create_session(CTX, make_data(CTX))
    assert caught.value.code is ErrorCode.INTERNAL
    assert "read-only transaction" in caught.value.message
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_lock_the_server_gave_up_waiting_for_is_timeout(store_url: str, pg_dsn: str) -> None:
    """Another transaction holds the table: the server's `lock_timeout` runs out."""
    schema = dict(part.split("=") for part in urlsplit(store_url).query.split("&"))["schema"]
    options = quote("-c lock_timeout=200", safe="")
    with open_store(f"{store_url}&options={options}") as store:
        key = store.create_session(CTX, make_data(CTX))
        with psycopg.connect(pg_dsn) as holder:
            holder.execute(f'LOCK TABLE "{schema}".gs_session_state IN ACCESS EXCLUSIVE MODE')
            with pytest.raises(SessionError) as caught:
                store.get_session(key)
    assert caught.value.code is ErrorCode.TIMEOUT
    assert "lock timeout" in caught.value.message
