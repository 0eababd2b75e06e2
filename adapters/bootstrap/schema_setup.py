"""`greentic-session setup`: create a store's tables ahead of use, as their owner."""

from __future__ import annotations

from greentic_session.adapters.bootstrap.open_store import open_store
from greentic_session.adapters.bootstrap.urls import parse_store_url, resolve_url
from greentic_session.adapters.storage.postgres import tables_in
from greentic_session.adapters.storage.postgres_schema import (
    EVENTS_TABLE,
    add_missing_indexes,
    grant_runtime_role,
    schema_of,
)
from greentic_session.adapters.storage.sql_tables import HEADS_KEY_INDEX
from greentic_session.domain.errors import invalid_input


def set_up_store(url: str | None, grant_to: str | None = None) -> list[str]:
    """Create the tables (harmless when they exist) and, on PostgreSQL, grant `grant_to`
    the rows-only rights the store needs at run time. Returns what was done."""
    location = parse_store_url(resolve_url(url))
    if location.backend == "memory":
        raise invalid_input("memory:// stores live in one process: there is nothing to set up")
    if grant_to is not None and location.backend != "postgresql":
        raise invalid_input("--grant-to needs a postgresql:// URL: SQLite has no roles")
    if grant_to is not None and (not grant_to or "\x00" in grant_to):
        raise invalid_input("--grant-to needs a role name")
    open_store(url).close()
    done = ["tables ready"]
    if location.backend == "postgresql":
        schema = schema_of(location.postgres)
        tables = tables_in(schema, f'"{schema}"."{EVENTS_TABLE}"')
        done += add_missing_indexes(location.postgres, {HEADS_KEY_INDEX: tables.heads_key_index})
    if grant_to is not None:
        done += grant_runtime_role(location.postgres, grant_to)
    return done
