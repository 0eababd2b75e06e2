"""The seams with the eventsourcing library: every private or undocumented part of it that
the store still uses is reached from here, and only from here.

The dependency is a compatible range (`eventsourcing>=9.5.6,<9.6`). Each assumption below
has a test named after it, which fails naming the assumption and its seam when an upgrade
breaks it: 1 and the SQLite parts of 4 and 5 in
`tests/integration/test_library_assumptions_sqlite.py`; 2, 3 and the PostgreSQL parts of 4
and 5 in `tests/integration/test_library_assumptions_postgres.py`; 6 to 9, with the version
range, in `tests/unit/test_library_assumptions.py`; 10 in
`tests/integration/test_library_assumptions_postgres.py`.
`tests/unit/test_library_private_names.py` checks that no other module of `domain/`,
`projections/` or `adapters/` touches a private name of the library.

Reached only through this module (private or undocumented):

1. `insert_sqlite_events`: `SQLiteApplicationRecorder._insert_events(cursor, stored_events)`
   inserts the events on the caller's cursor, in the caller's transaction, without
   committing, and returns their rowids (the log positions) in order.
   Why: the SQLite recorder writes the read-model changes in the transaction that inserts
   the events, so a write is all or nothing; an import calls it once per batch of events,
   all in one transaction (`SQLiteSessionRecorder.import_log`).
   If it changes: appends fail, or events and read models could be committed apart.

2. `without_retry`: the library's PostgreSQL recorder wraps `select_notifications` and
   `max_notification_id` in `eventsourcing.utils.retry` (10 attempts, each waiting up to
   the connect timeout) through `functools.wraps`, so `__wrapped__` is the plain method.
   Why: an outage must fail these at once, within the store's bound, like every call.
   If it changes: without a wrapper the seam raises at import; with another one, reading
   the log during an outage could hang for minutes.

3. `replace_pool`: `PostgresDatastore.pool` is the one pool `get_connection()` takes every
   connection from. The PostgreSQL factory (`Application.construct_factory`) builds its
   `datastore` and that pool closed (`open=False`), and the pool opens at the first
   `get_connection()`, which the recorder's constructor makes (to register type
   adapters): so the pool is still closed when `construct_factory` returns, before any
   recorder exists (`postgres.PostgresSessionLog` replaces it there). Its settings
   (`timeout`, `kwargs`, sizes, `max_waiting`, `max_lifetime`, `connection_class`) are
   those of the POSTGRES_* settings; `after_connect_func()` is the library's set-up of
   each new connection (autocommit, idle-in-transaction timeout).
   Why: the store's pool (`postgres_pool.RecoveringPool`) bounds every wait and never
   hands out a connection the server closed.
   If it changes: the swap is refused (the pool is open already), or connections come
   from a pool the store does not control and an outage hangs instead of failing fast.

4. `postgres_events_table`: the PostgreSQL factory names the application recorder's table
   `<application name, lowercased>_events` and passes it as `events_table_name`; the
   SQLite factory passes the datastore only, so the recorder's default, `stored_events`,
   is the table.
   Why: schema setup grants on, locks and looks for that table; the read models' SQL
   names it.
   If it changes: setup grants on a table the store does not use, or a new store is
   taken for an existing one.

10. `connection_kwargs`: the library's pool connects with psycopg_pool's `conninfo` and
   `kwargs` (`connect(conninfo, **kwargs)`, kwargs winning): it gives no `conninfo`, and
   as `kwargs` the five POSTGRES_* connection settings (`dbname`, `host`, `port`, `user`,
   `password`) and what its own code needs of every connection (`row_factory`, dict rows).
   Why: the store connects with its URL's whole libpq connection string instead (so
   `sslmode`, `application_name`, a socket folder, the `PG*` variables all work), keeping
   the rest of the library's arguments.
   If it changes: the seam refuses to build the pool (the library passes a connection
   string of its own, or no longer these five), rather than connect with half the URL.

Public API whose behaviour the store relies on, used where named (no private name; the
same tests check it):

5. Events tables: the library creates them with columns `originator_id`,
   `originator_version`, `topic` and `state`, positioned by `rowid` in SQLite (stream ids
   as hex text) and by a `notification_id` bigserial in PostgreSQL; `create_table()` runs
   the statements of `construct_create_table_statements()` (SQLite) and of
   `sql_create_statements` (PostgreSQL), to which the backends add the read models'.
   Why: `sqlite.py` and `postgres.py` read the log in SQL, and PostgreSQL inserts the
   events itself, with the read-model changes, in one round trip; an import into
   PostgreSQL writes those four columns with one binary `COPY`, typed uuid, bigint, text
   and bytea (`postgres.COPY_TYPES`), the bigserial numbering the rows in order.
   If it changes: reads and appends fail, or read the wrong columns.

6. `EventStore.put(events, **kwargs)` hands `kwargs` unchanged to the recorder's
   `insert_events` (`session_log.READ_MODEL_CHANGES` rides along that way).
   Why: the read-model changes reach the recorder that writes them with the events.
   If it changes: the read models are never written, or every write fails.

7. `POPOApplicationRecorder.insert_events` returns the positions (notification ids) it gave
   the events, at which `select_notifications(start, limit)` then returns them.
   Why: `memory.py` indexes each stream's positions for the audit tools.
   If it changes: every in-memory write fails (the recorder refuses a missing answer).

8. Calling an aggregate class with keyword arguments triggers its one created event with
   them, the stream id from its `create_id` (given the arguments it names), version 1.
   Why: `Session.start` creates a stream that way (`domain/aggregate.py`).
   If it changes: starting a session fails, or lands on another stream than its key's.

9. `Snapshot.take(aggregate).state` holds every attribute of the aggregate but its id,
   version and pending events, and `Snapshot(...).mutate(None)` rebuilds an aggregate from
   such a state at the snapshot's version with nothing pending.
   Why: `Session.restore` rebuilds a session from the state read model that way, O(1),
   instead of replaying its stream (`domain/aggregate.py`).
   If it changes: restoring fails, or a restored session has the wrong version (every
   write clashes until it gives up) or leaks pending events into the next append.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import ConnectionPool, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg import Connection

F = TypeVar("F", bound=Callable[..., Any])

ConnectionSetUp = Callable[[Connection[Any]], None]
PoolRebuild = Callable[[ConnectionPool[Any], ConnectionSetUp], ConnectionPool[Any]]


class LibraryChanged(RuntimeError):
    """What a seam raises when the library no longer is what it was written against."""


# -- 1. SQLite: events inserted in the caller's transaction -------------------------------


def insert_sqlite_events(
    recorder: SQLiteApplicationRecorder,
    cursor: SQLiteCursor,
    stored_events: Sequence[StoredEvent],
) -> list[int]:
    """Insert the events on `cursor`, in its transaction, uncommitted; their rowids, in
    order (assumption 1). The library's own insert, so its layout and conversions hold."""
    positions = SQLiteApplicationRecorder._insert_events(recorder, cursor, stored_events)
    if positions is None or len(positions) != len(stored_events):
        raise LibraryChanged(
            "library_seams.insert_sqlite_events: SQLiteApplicationRecorder._insert_events "
            "returned no position for each event (assumption 1)"
        )
    return list(positions)


# -- 2. PostgreSQL: the library's methods without its retry loop --------------------------


def without_retry(method: F) -> F:
    """The library's method as written, without the `retry` decorator around it
    (assumption 2). Raises at once, at import, if there is no decorator to strip."""
    inner = getattr(method, "__wrapped__", None)
    if not callable(inner):
        raise LibraryChanged(
            f"library_seams.without_retry: {method.__qualname__} is no longer wrapped by "
            "eventsourcing.utils.retry (assumption 2)"
        )
    stripped: F = inner
    return stripped


# -- 3. PostgreSQL: the store's pool instead of the library's -----------------------------


def replace_pool(datastore: PostgresDatastore, rebuild: PoolRebuild) -> None:
    """Put `rebuild(library_pool, set_up)` where the datastore takes its connections from,
    before the library's pool ever opened (assumption 3): call it before the library's
    recorder constructor, which connects. `set_up`: the library's set-up of each new
    connection, which the new pool must run too."""
    library_pool = datastore.pool
    if not library_pool.closed:
        raise LibraryChanged(
            "library_seams.replace_pool: the library's PostgreSQL pool is open already; it can "
            "no longer be replaced (assumption 3)"
        )
    datastore.pool = rebuild(library_pool, datastore.after_connect_func())


# -- 4. table names -----------------------------------------------------------------------


def postgres_events_table(application_name: str) -> str:
    """The name the PostgreSQL factory gives the application's events table (assumption 4)."""
    return f"{application_name.lower()}_events"


# -- 10. PostgreSQL: the pool's connection arguments ------------------------------------


def connection_kwargs(pool: ConnectionPool[Any], connection_keys: frozenset[str]) -> dict[str, Any]:
    """The library pool's `kwargs` less the connection settings `connection_keys`, which
    the store's connection string replaces (assumption 10)."""
    kwargs = pool.kwargs
    if pool.conninfo or not isinstance(kwargs, dict) or not connection_keys <= set(kwargs):
        raise LibraryChanged(
            "library_seams.connection_kwargs: the library's PostgreSQL pool no longer connects "
            f"with {sorted(connection_keys)} as kwargs and no conninfo (assumption 10)"
        )
    return {name: value for name, value in kwargs.items() if name not in connection_keys}
