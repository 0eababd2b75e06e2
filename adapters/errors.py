"""Driver and library failures become `SessionError`s with the cause chained."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
)

from domain.errors import ErrorCode, SessionError


@contextmanager
def database_errors(where: str) -> Iterator[None]:
    """Translate everything but `IntegrityError`, which the write loop retries."""
    try:
        yield
    except (SessionError, IntegrityError):
        raise
    except OperationalError as exc:
        if _is_size_limit(exc):
            raise SessionError(
                ErrorCode.INVALID_INPUT, f"the database cannot hold this value ({where}): {exc}"
            ) from exc
        raise _unavailable(where, exc) from exc
    except InterfaceError as exc:
        raise _unavailable(where, exc) from exc
    except DataError as exc:
        raise SessionError(
            ErrorCode.INVALID_INPUT, f"the database refused the data ({where}): {exc}"
        ) from exc
    except PersistenceError as exc:
        raise SessionError(
            ErrorCode.INTERNAL, f"the session database failed ({where}): {exc}"
        ) from exc


def _unavailable(where: str, exc: Exception) -> SessionError:
    return SessionError(
        ErrorCode.UNAVAILABLE,
        f"the session database is unavailable ({where}): {exc}; "
        "check the store URL and that the database is running, then retry",
    )


def _is_size_limit(exc: Exception) -> bool:
    """PostgreSQL's class 54 (program limit exceeded) is about the value, not the server."""
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("54")
