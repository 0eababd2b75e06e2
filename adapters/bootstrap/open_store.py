"""`open_store(url)`: the one way to get a store, whatever the backend."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from datetime import datetime
from pathlib import Path

from greentic_session.adapters.bootstrap.urls import (
    parse_store_url,
    redacted,
    resolve_max_context_bytes,
    resolve_url,
)
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.adapters.service.store_options import StoreOptions
from greentic_session.adapters.storage.database_errors import database_errors
from greentic_session.adapters.storage.encryption import cipher_settings, resolve_key
from greentic_session.adapters.storage.memory import open_memory_log
from greentic_session.adapters.storage.postgres import open_postgres_log
from greentic_session.adapters.storage.postgres_schema import schema_to_create
from greentic_session.adapters.storage.session_log import OpenedLog
from greentic_session.adapters.storage.sql_tables import READ_MODEL_TABLES
from greentic_session.adapters.storage.sqlite import EVENTS_TABLE, open_sqlite_log
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.rules import Clock, utc_now

log = logging.getLogger(__name__)


def open_store(
    url: str | None = None,
    *,
    create: bool = True,
    clock: Clock | None = None,
    encryption_key: str | None = None,
    max_context_bytes: int | None = None,
) -> EventSourcedSessionStore:
    """Open (creating tables on first use) the store at `url`.

    `create=False` opens only a store that exists, and runs no DDL at all (so a role with
    rows-only rights can use it): tools that only read pass it, so a mistyped URL is
    reported instead of becoming a new, empty store. With no store at the URL (no SQLite
    file, a file or PostgreSQL schema without the store's tables, or `memory://`, which
    never holds anything before it is opened) it raises `SessionError(not_found)`.

    `url` defaults to `GREENTIC_SESSION_URL`, else `sqlite:///greentic-sessions.db`.
    `clock` decides expiry (a callable returning an aware UTC datetime; tests pass a fake).
    `encryption_key` (default `GREENTIC_SESSION_ENCRYPTION_KEY`): AES-GCM at rest, base64
    of 16, 24 or 32 bytes (`greentic-session keygen`). `max_context_bytes` bounds a
    session's `context_json` (default `GREENTIC_SESSION_MAX_CONTEXT_BYTES`, else 16 MiB).

    Raises `SessionError`: `invalid_input` for a URL, option, key or limit it cannot use;
    `unauthenticated` when the key does not open the store's log (or one is missing);
    `permission_denied` when the role may not create tables the store still needs;
    `unavailable` when the database cannot be reached.
    """
    if clock is not None:
        _check_clock(clock)
    options = StoreOptions(
        clock=clock or utc_now,
        max_context_bytes=resolve_max_context_bytes(max_context_bytes),
    )
    if not isinstance(create, bool):
        raise SessionError(ErrorCode.INVALID_INPUT, f"create must be a bool, got {create!r}")
    log_settings = cipher_settings(resolve_key(encryption_key))
    resolved = resolve_url(url)
    location = parse_store_url(resolved)
    log.debug("opening %s store", location.backend)
    with database_errors(f"opening the {location.backend} store"):
        if location.backend == "memory":
            if not create:
                raise no_store(resolved, "a memory:// store is new each time it is opened")
            opened = open_memory_log(log_settings)
        elif location.backend == "sqlite":
            opened = _open_sqlite(resolved, location.sqlite_path, log_settings, create)
        else:
            with schema_to_create(location.postgres, create=create) as missing:
                if missing and not create:
                    raise no_store(resolved, "no such schema, or it lacks the store's tables")
                opened = open_postgres_log(location.postgres, log_settings, create_tables=missing)
        return EventSourcedSessionStore(opened, options)


def no_store(url: str, why: str) -> SessionError:
    """The URL as shown never holds a password."""
    return SessionError(
        ErrorCode.NOT_FOUND,
        f"no store at {redacted(url)} ({why}); check the URL, or create the store "
        "(greentic-session setup, or any write)",
    )


def _open_sqlite(url: str, path: str, log_settings: Mapping[str, str], create: bool) -> OpenedLog:
    folder = os.path.dirname(path)
    if path != ":memory:" and not os.path.isdir(folder):
        # SQLite creates the file, never its folder: a typo in the path, not an outage.
        raise SessionError(
            ErrorCode.INVALID_INPUT,
            f"the folder {folder} of the SQLite store does not exist; create it, or fix the URL",
        )
    try:
        if not create:
            _check_sqlite_store(url, path)
        return open_sqlite_log(path, log_settings, create_tables=create)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise  # cannot open or lock it: in the category of SQLite's result code
        raise SessionError(
            ErrorCode.INVALID_INPUT, f"{path} is not a SQLite database ({exc}); check the URL"
        ) from exc


def _check_sqlite_store(url: str, path: str) -> None:
    """Read-only, on a connection that cannot create the file: is the store there?"""
    if path == ":memory:":
        raise no_store(url, "an in-memory SQLite database is new each time it is opened")
    if not os.path.isfile(path):
        raise no_store(url, "no such file")
    with closing(sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {row[0] for row in rows}
    if not {EVENTS_TABLE, "gs_stream_heads", *READ_MODEL_TABLES} <= tables:
        raise no_store(url, "the file lacks the store's tables")


def _check_clock(clock: Clock) -> None:
    """Deadlines are compared with stored, timezone-aware UTC times: a naive clock cannot work."""
    now = clock() if callable(clock) else None
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise SessionError(
            ErrorCode.INVALID_INPUT,
            "clock must be a callable returning a timezone-aware datetime, "
            "e.g. lambda: datetime.now(UTC)",
        )
