"""`open_store(url)`: the one way to get a store, whatever the backend."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg
from psycopg import sql

from adapters.encryption import cipher_settings, resolve_key
from adapters.errors import database_errors
from adapters.event_store import EventSourcedSessionStore
from adapters.memory import open_memory_store
from adapters.postgres import open_postgres_store
from adapters.sqlite import open_sqlite_store
from adapters.store_options import StoreOptions
from adapters.urls import parse_store_url, resolve_max_context_bytes, resolve_url
from domain.errors import ErrorCode, SessionError
from domain.rules import Clock, utc_now

log = logging.getLogger(__name__)

# Any fixed number: processes opening the same database take turns creating its tables.
_SETUP_LOCK = 0x67726E74


def open_store(
    url: str | None = None,
    *,
    clock: Clock | None = None,
    encryption_key: str | None = None,
    max_context_bytes: int | None = None,
) -> EventSourcedSessionStore:
    """Open (creating tables on first use) the store at `url`.

    `url` defaults to `GREENTIC_SESSION_URL`, else `sqlite:///greentic-sessions.db`.
    `clock` decides expiry (a callable returning an aware UTC datetime; tests pass a fake).
    `encryption_key` (default `GREENTIC_SESSION_ENCRYPTION_KEY`): AES-GCM at rest, base64
    of 16, 24 or 32 bytes (`greentic-session keygen`). `max_context_bytes` bounds a
    session's `context_json` (default `GREENTIC_SESSION_MAX_CONTEXT_BYTES`, else 16 MiB).
    """
    if clock is not None:
        _check_clock(clock)
    options = StoreOptions(
        clock=clock or utc_now,
        max_context_bytes=resolve_max_context_bytes(max_context_bytes),
        log_settings=cipher_settings(resolve_key(encryption_key)),
    )
    location = parse_store_url(resolve_url(url))
    log.debug("opening %s store", location.backend)
    with database_errors(f"opening the {location.backend} store"):
        if location.backend == "memory":
            return open_memory_store(options)
        if location.backend == "sqlite":
            return open_sqlite_store(location.sqlite_path, options)
        with _postgres_setup(location.postgres):
            return open_postgres_store(location.postgres, options)


def _check_clock(clock: Clock) -> None:
    """Deadlines are compared with stored, timezone-aware UTC times: a naive clock cannot work."""
    now = clock() if callable(clock) else None
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise SessionError(
            ErrorCode.INVALID_INPUT,
            "clock must be a callable returning a timezone-aware datetime, "
            "e.g. lambda: datetime.now(UTC)",
        )


@contextmanager
def _postgres_setup(settings: dict[str, str]) -> Iterator[None]:
    """One direct connection while the tables are created.

    It fails fast with the server's own reason (the pool would only time out), creates
    the schema (the library creates tables, not schemas), and holds an advisory lock so
    that processes opening a new database at once do not race to create the same tables.
    """
    schema = settings.get("POSTGRES_SCHEMA")
    try:
        connection = psycopg.connect(
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
    with connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
        if schema:
            create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            connection.execute(create)
        yield
