"""`open_store(url)`: the one way to get a store, whatever the backend."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from adapters.errors import database_errors
from adapters.event_store import EventSourcedSessionStore
from adapters.memory import open_memory_store
from adapters.postgres import open_postgres_store
from adapters.sqlite import open_sqlite_store
from adapters.urls import parse_store_url, resolve_url
from domain.errors import ErrorCode, SessionError
from domain.rules import Clock

log = logging.getLogger(__name__)


def open_store(url: str | None = None, *, clock: Clock | None = None) -> EventSourcedSessionStore:
    """Open (creating tables on first use) the store at `url`.

    `url` defaults to `GREENTIC_SESSION_URL`, else `sqlite:///greentic-sessions.db`.
    `clock` decides expiry (a callable returning an aware UTC datetime; tests pass a fake).
    """
    location = parse_store_url(resolve_url(url))
    log.debug("opening %s store", location.backend)
    if location.backend == "memory":
        return open_memory_store(clock)
    with database_errors(f"opening the {location.backend} store"):
        if location.backend == "sqlite":
            return open_sqlite_store(location.sqlite_path, clock)
        _prepare_postgres(location.postgres)
        return open_postgres_store(location.postgres, clock)


def _prepare_postgres(settings: dict[str, str]) -> None:
    """Connect once directly: fails fast with the server's own reason (the pool would only
    time out), and creates the schema, which the library does not."""
    schema = settings.get("POSTGRES_SCHEMA")
    try:
        with psycopg.connect(
            dbname=settings["POSTGRES_DBNAME"],
            host=settings["POSTGRES_HOST"],
            port=settings["POSTGRES_PORT"],
            user=settings["POSTGRES_USER"],
            password=settings["POSTGRES_PASSWORD"],
            connect_timeout=int(float(settings["POSTGRES_CONNECT_TIMEOUT"])),
            autocommit=True,
        ) as connection:
            if schema:
                create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                connection.execute(create)
    except psycopg.OperationalError as exc:
        raise SessionError(
            ErrorCode.UNAVAILABLE,
            f"cannot reach PostgreSQL at {settings['POSTGRES_HOST']}:{settings['POSTGRES_PORT']}"
            f": {exc}; check the URL and that the server is running",
        ) from exc
