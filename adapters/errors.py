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
    except (OperationalError, InterfaceError) as exc:
        raise SessionError(
            ErrorCode.UNAVAILABLE,
            f"the session database is unavailable ({where}): {exc}; "
            "check the store URL and that the database is running, then retry",
        ) from exc
    except DataError as exc:
        raise SessionError(
            ErrorCode.INVALID_INPUT, f"the database refused the data ({where}): {exc}"
        ) from exc
    except PersistenceError as exc:
        raise SessionError(
            ErrorCode.INTERNAL, f"the session database failed ({where}): {exc}"
        ) from exc
