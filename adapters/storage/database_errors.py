"""Driver and library failures become `SessionError`s with the cause chained."""

from __future__ import annotations

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

# Reads run straight on driver connections, so raw driver errors can arrive here too.
_CONNECTION_ERRORS = (
    OperationalError,
    InterfaceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
)
_DATA_ERRORS = (DataError, sqlite3.DataError, psycopg.DataError)
_OTHER_ERRORS = (PersistenceError, sqlite3.Error, psycopg.Error)


@contextmanager
def database_errors(where: str) -> Iterator[None]:
    """Translate library and driver errors (the write loop retries its clashes before this)."""
    try:
        yield
    except SessionError:
        raise
    except IntegrityError as exc:
        raise SessionError(
            ErrorCode.CONFLICT, f"a concurrent change clashed ({where}): {exc}; retry"
        ) from exc
    except _CONNECTION_ERRORS as exc:
        if _is_size_limit(exc):
            raise SessionError(
                ErrorCode.INVALID_INPUT, f"the database cannot hold this value ({where}): {exc}"
            ) from exc
        raise SessionError(
            ErrorCode.UNAVAILABLE,
            f"the session database is unavailable ({where}): {exc}; "
            "check the store URL and that the database is running, then retry",
        ) from exc
    except _DATA_ERRORS as exc:
        raise SessionError(
            ErrorCode.INVALID_INPUT, f"the database refused the data ({where}): {exc}"
        ) from exc
    except _OTHER_ERRORS as exc:
        raise SessionError(
            ErrorCode.INTERNAL, f"the session database failed ({where}): {exc}"
        ) from exc


def _is_size_limit(exc: BaseException) -> bool:
    """PostgreSQL's class 54 (program limit exceeded) is about the value, not the server."""
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("54")
