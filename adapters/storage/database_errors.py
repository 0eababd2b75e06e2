"""Driver and library failures become `SessionError`s with the cause chained, in the
category of what happened.

`unavailable` means the database could not be reached or dropped the connection, and
nothing else: a caller may retry it as it is. When the server answered, its answer
decides: a database that does not exist is `not_found`, refused credentials
`unauthenticated`, missing rights `permission_denied`, a lock or statement timeout
`timeout`, a value it cannot hold `invalid_input`, and any other statement it refused
`internal`, each with the server's reason.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
)

from greentic_session.domain.errors import ErrorCode, SessionError

# PostgreSQL's SQLSTATEs (appendix A of its manual), then their classes.
_SQLSTATES = {
    "3D000": ErrorCode.NOT_FOUND,  # invalid_catalog_name: no such database
    "3F000": ErrorCode.NOT_FOUND,  # invalid_schema_name
    "28000": ErrorCode.UNAUTHENTICATED,  # invalid_authorization_specification: no such role
    "28P01": ErrorCode.UNAUTHENTICATED,  # invalid_password
    "42501": ErrorCode.PERMISSION_DENIED,  # insufficient_privilege
    "55P03": ErrorCode.TIMEOUT,  # lock_not_available: lock_timeout ran out
    "57014": ErrorCode.TIMEOUT,  # query_canceled: statement_timeout ran out
    "57P01": ErrorCode.UNAVAILABLE,  # admin_shutdown: the server closed the connection
    "57P02": ErrorCode.UNAVAILABLE,  # crash_shutdown
    "57P03": ErrorCode.UNAVAILABLE,  # cannot_connect_now: starting up, shutting down
    "53300": ErrorCode.UNAVAILABLE,  # too_many_connections: no connection to be had now
    "40001": ErrorCode.CONFLICT,  # serialization_failure
    "40P01": ErrorCode.CONFLICT,  # deadlock_detected
}
_SQLSTATE_CLASSES = {
    "08": ErrorCode.UNAVAILABLE,  # connection exception
    "22": ErrorCode.INVALID_INPUT,  # data exception
    "54": ErrorCode.INVALID_INPUT,  # program limit exceeded: the value, not the server
}

_STARTING_OR_STOPPING = re.compile(
    r"the database system is (?:starting up|shutting down|in recovery mode"
    r"|not (?:yet )?accepting connections)"
)
# A connection the server refused has no SQLSTATE in libpq's API, only the server's
# message: these are the messages of the SQLSTATEs above that a server sends while a
# connection starts (and libpq's own when the server asked for a password it lacks).
_REFUSALS = [
    (re.compile(r'database ".*" does not exist'), "3D000"),
    (re.compile(r'role ".*" does not exist'), "28000"),
    (re.compile(r'role ".*" is not permitted to log in'), "28000"),
    (re.compile(r"no pg_hba\.conf entry"), "28000"),
    (re.compile(r"\b\w+ authentication failed for user"), "28P01"),
    (re.compile(r"no password supplied"), "28P01"),
    (re.compile(r"permission denied for database"), "42501"),
    (re.compile(r"too many (?:connections|clients)|remaining connection slots"), "53300"),
    (_STARTING_OR_STOPPING, "57P03"),
]
_SERVER_ANSWERED = re.compile(r"\bFATAL:\s")

# SQLite's primary result codes: the file cannot be had now, or may not be written.
_SQLITE_UNREACHABLE = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_PROTOCOL,
}
_SQLITE_REFUSED = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH}


@contextmanager
def database_errors(where: str) -> Iterator[None]:
    """Translate library and driver errors (the write loop retries its clashes before this)."""
    try:
        yield
    except SessionError:
        raise
    except (PersistenceError, psycopg.Error, sqlite3.Error) as exc:
        raise as_session_error(exc, where) from exc


def as_session_error(exc: BaseException, where: str) -> SessionError:
    """The `SessionError` for a driver or library error met while `where` (chain it)."""
    code = error_code(exc)
    return SessionError(code, _MESSAGES[code].format(where=where, reason=_reason(exc)))


def error_code(exc: BaseException) -> ErrorCode:
    """The category of a driver or library error, by the database's own code when it
    answered (SQLSTATE, SQLite's result code)."""
    if isinstance(exc, IntegrityError):
        return ErrorCode.CONFLICT
    driver = _driver_error(exc)
    if isinstance(driver, psycopg.Error):
        return _postgres_code(driver)
    if isinstance(driver, sqlite3.Error):
        return _sqlite_code(driver)
    if isinstance(exc, (OperationalError, InterfaceError)):
        return ErrorCode.UNAVAILABLE
    if isinstance(exc, DataError):
        return ErrorCode.INVALID_INPUT
    return ErrorCode.INTERNAL


def _postgres_code(error: psycopg.Error) -> ErrorCode:
    state = error.sqlstate or _refusal_state(str(error))
    if state:
        return _SQLSTATES.get(state) or _SQLSTATE_CLASSES.get(state[:2]) or ErrorCode.INTERNAL
    if _SERVER_ANSWERED.search(str(error)):
        return ErrorCode.INTERNAL  # refused, for a reason not listed here
    if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
        return ErrorCode.UNAVAILABLE  # refused, reset, timed out, closed: nobody answered
    if isinstance(error, psycopg.DataError):
        return ErrorCode.INVALID_INPUT  # refused by the driver before sending it
    return ErrorCode.INTERNAL


def _refusal_state(message: str) -> str | None:
    for pattern, state in _REFUSALS:
        if pattern.search(message):
            return state
    return None


def _sqlite_code(error: sqlite3.Error) -> ErrorCode:
    if isinstance(error, sqlite3.DataError):
        return ErrorCode.INVALID_INPUT  # too big for a row
    code: int | None = getattr(error, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary == sqlite3.SQLITE_TOOBIG:
        return ErrorCode.INVALID_INPUT
    if primary in _SQLITE_UNREACHABLE:
        return ErrorCode.UNAVAILABLE
    if primary in _SQLITE_REFUSED:
        return ErrorCode.PERMISSION_DENIED
    return ErrorCode.INTERNAL  # no such table, corrupt file, full disk...


def _driver_error(exc: BaseException) -> BaseException | None:
    """The driver's own error: the library re-raises it as its own, the cause chained."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (psycopg.Error, sqlite3.Error)):
            return seen
        seen = seen.__cause__
    return None


def _reason(exc: BaseException) -> str:
    """The database's reason, on one line (libpq adds hints on lines of their own)."""
    return " ".join(part.strip() for part in str(exc).splitlines() if part.strip())


_MESSAGES = {
    ErrorCode.CONFLICT: "a concurrent change clashed ({where}): {reason}; retry",
    ErrorCode.UNAVAILABLE: (
        "the session database is unavailable ({where}): {reason}; "
        "check the store URL and that the database is running, then retry"
    ),
    ErrorCode.NOT_FOUND: (
        "the database server has no such database or schema ({where}): {reason}; "
        "check the database name in the store URL"
    ),
    ErrorCode.UNAUTHENTICATED: (
        "the database server refused the login ({where}): {reason}; check the user "
        "and password (in the URL, PGUSER and PGPASSWORD, or ~/.pgpass)"
    ),
    ErrorCode.PERMISSION_DENIED: (
        "the database refused this role ({where}): {reason}; grant it the "
        "rights the store needs (greentic-session setup --grant-to ROLE)"
    ),
    ErrorCode.TIMEOUT: (
        "the database gave up waiting ({where}): {reason}; retry, or raise the server's "
        "lock_timeout or statement_timeout (a URL can set them: options=-c%20lock_timeout%3D5s)"
    ),
    ErrorCode.INVALID_INPUT: "the database cannot hold this value ({where}): {reason}",
    ErrorCode.INTERNAL: "the session database refused a statement ({where}): {reason}",
}
