"""Driver errors fall in the category of what happened: `unavailable` only when the
database could not be reached or dropped the connection; the server's own answer (its
SQLSTATE, or the reason libpq quotes when it refused a connection) decides otherwise.

The local test server trusts every login, so a wrong password cannot be had from it
without changing its configuration: these tests build the errors psycopg raises for one
(with SQLSTATE 28P01, and libpq's connection-failure text, which carries none)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from eventsourcing.persistence import OperationalError, ProgrammingError

from greentic_session.adapters.storage.database_errors import as_session_error, error_code
from greentic_session.domain.errors import ErrorCode

FAILED = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '


def wrapped(error: BaseException) -> BaseException:
    """As the library re-raises a driver error: its own, the driver's chained."""
    library = OperationalError(str(error))
    library.__cause__ = error
    return library


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (psycopg.errors.InvalidPassword("password authentication failed"), "unauthenticated"),
        (psycopg.errors.InvalidAuthorizationSpecification("no such role"), "unauthenticated"),
        (psycopg.errors.InvalidCatalogName('database "x" does not exist'), "not_found"),
        (psycopg.errors.InsufficientPrivilege("permission denied"), "permission_denied"),
        (psycopg.errors.LockNotAvailable("lock timeout"), "timeout"),
        (psycopg.errors.QueryCanceled("statement timeout"), "timeout"),
        (psycopg.errors.DiskFull("could not extend file"), "internal"),
        (psycopg.errors.UndefinedTable('relation "gs_x" does not exist'), "internal"),
        (psycopg.errors.ReadOnlySqlTransaction("read-only transaction"), "internal"),
        (psycopg.errors.AdminShutdown("terminating connection"), "unavailable"),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), "unavailable"),
        (psycopg.errors.ProgramLimitExceeded("index row too big"), "invalid_input"),
        (psycopg.errors.DeadlockDetected("deadlock detected"), "conflict"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value,
)
def test_a_server_error_falls_in_the_category_of_its_sqlstate(
    error: psycopg.Error, code: str
) -> None:
    assert error_code(error) is ErrorCode(code)
    assert error_code(wrapped(error)) is ErrorCode(code)


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ('password authentication failed for user "gs"', "unauthenticated"),
        ('role "gs" does not exist', "unauthenticated"),
        ('no pg_hba.conf entry for host "10.0.0.9", user "gs", database "test"', "unauthenticated"),
        ('database "typo" does not exist', "not_found"),
        ('permission denied for database "test"', "permission_denied"),
        ("sorry, too many clients already", "unavailable"),
        ("the database system is shutting down", "unavailable"),
        ("an answer this store has never heard of", "internal"),
    ],
)
def test_a_refused_connection_falls_in_the_category_of_the_server_reason(
    reason: str, code: str
) -> None:
    error = psycopg.OperationalError(FAILED + reason)
    assert error.sqlstate is None  # libpq gives no SQLSTATE for a refused connection
    assert error_code(error) is ErrorCode(code)


@pytest.mark.parametrize(
    "message",
    [
        'connection failed: connection to server at "127.0.0.1", port 1 failed: '
        "Connection refused\n\tIs the server running on that host?",
        "consuming input failed: server closed the connection unexpectedly",
        "couldn't get a connection after 5.00 sec",
    ],
)
def test_a_database_out_of_reach_is_unavailable(message: str) -> None:
    assert error_code(psycopg.OperationalError(message)) is ErrorCode.UNAVAILABLE
    assert error_code(OperationalError(message)) is ErrorCode.UNAVAILABLE


def test_the_message_carries_the_server_reason_on_one_line() -> None:
    error = as_session_error(
        psycopg.OperationalError(FAILED + 'password authentication failed for user "gs"\n'),
        "opening the postgresql store",
    )
    assert error.code is ErrorCode.UNAUTHENTICATED
    assert 'password authentication failed for user "gs"' in error.message
    assert "\n" not in error.message


def sqlite_error(kind: type[sqlite3.Error], code: int) -> sqlite3.Error:
    error = kind("from SQLite")
    error.sqlite_errorcode = code
    return error


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_BUSY), "unavailable"),
        (sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_CANTOPEN), "unavailable"),
        (sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_IOERR_READ), "unavailable"),
        (sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_ERROR), "internal"),
        (sqlite_error(sqlite3.DatabaseError, sqlite3.SQLITE_CORRUPT), "internal"),
        (sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_READONLY), "permission_denied"),
        (sqlite_error(sqlite3.DataError, sqlite3.SQLITE_TOOBIG), "invalid_input"),
    ],
    ids=lambda value: str(getattr(value, "sqlite_errorcode", value)),
)
def test_a_sqlite_error_falls_in_the_category_of_its_result_code(
    error: sqlite3.Error, code: str
) -> None:
    assert error_code(error) is ErrorCode(code)
    assert error_code(wrapped(error)) is ErrorCode(code)


def test_a_library_error_with_no_driver_error_behind_it_is_internal() -> None:
    assert error_code(ProgrammingError("bad statement")) is ErrorCode.INTERNAL
