"""The PostgreSQL connection pool: every wait bounded by the connect timeout, and no dead
connection ever handed out, so an outage fails fast and a restart is over at once."""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

from eventsourcing.postgres import ConnectionPool
from psycopg import Connection

from greentic_session.adapters.storage.library_seams import connection_kwargs
from greentic_session.adapters.storage.postgres_deadline import CallWatchdog, abandoned


class RecoveringPool(ConnectionPool[Connection[Any]]):
    """A connection the server closed while it sat idle in the pool (a restart, a crash)
    is never handed out: it and every other dead idle one are dropped before any statement
    is sent. So the first call after a restart works, writes included, and no write goes
    down a dead connection (where whether it committed would be unknown)."""

    watchdog = CallWatchdog(0)
    """Bounds each use of a connection handed out (`command_timeout`; 0: unbounded)."""

    def getconn(self, timeout: float | None = None) -> Connection[Any]:
        """A live connection, from now on under the watchdog's deadline."""
        connection = self._live_connection(timeout)
        self.watchdog.watch(connection)
        return connection

    def putconn(self, conn: Connection[Any]) -> None:
        """Back in the pool; raises `SessionError(timeout)` when the watchdog shut it (the
        call on it was abandoned), in place of the driver's error about its socket."""
        shut_past_deadline = self.watchdog.release(conn)
        super().putconn(conn)
        if shut_past_deadline:
            raise abandoned(self.watchdog.command_timeout)

    def close(self, timeout: float = 5.0) -> None:
        """The pool's connections, and the watchdog's thread with them."""
        try:
            super().close(timeout)
        finally:
            self.watchdog.stop()

    def _live_connection(self, timeout: float | None) -> Connection[Any]:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        connection = super().getconn(timeout)
        if not _closed_by_server(connection):
            return connection
        connection.close()
        super().putconn(connection)  # closed: the pool replaces it
        self.check()  # the other idle ones died with it: each is tried, the dead dropped
        return super().getconn(max(deadline - time.monotonic(), 0.01))


def _closed_by_server(connection: Connection[Any]) -> bool:
    """An idle connection has nothing to read unless the server said goodbye or hung up:
    one poll of its socket (a microsecond), no round trip."""
    if connection.closed or connection.broken:
        return True
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


# The library's pool arguments that say where and as whom to connect: the store's
# connection string takes their place (library_seams, assumption 10).
_LIBRARY_CONNECTION_KWARGS = frozenset({"dbname", "host", "port", "user", "password"})


def recovering_pool(
    library_pool: ConnectionPool[Any],
    set_up: Callable[[Connection[Any]], None],
    conninfo: str,
    command_timeout: float = 0,
) -> RecoveringPool:
    """The library's pool, rebuilt (before it opens) with every wait bounded; `set_up`: the
    library's set-up of each new connection (see `library_seams.replace_pool`).

    `conninfo`: the store's libpq connection string, every parameter of its URL, instead of
    the five the library passes (see `library_seams.connection_kwargs`): so `sslmode`,
    `application_name`, a socket folder as host... reach every connection, and what the
    URL leaves out libpq takes from the `PG*` variables, as psql does.

    The library gives the connect timeout to the pool only, as its wait for a free
    connection. Here it also bounds each connection attempt (libpq's default is 130 s:
    against a server that never answers the pool's workers would be stuck that long) and
    the pool's reconnection attempts in the background, which otherwise back off further
    and further during an outage (1, 2, 4, 8 s...), so that once the server is back calls
    would keep failing until the next attempt; given up early, a new request connects at
    once.

    `command_timeout`: each connection's `statement_timeout`, and the watchdog's deadline
    for each use of one (`postgres_deadline`); 0: none.
    """
    timeout = library_pool.timeout

    def configure(connection: Connection[Any]) -> None:
        set_up(connection)
        connection.execute(f"SET statement_timeout = '{int(command_timeout * 1000)}ms'")

    pool = RecoveringPool(
        conninfo,
        connection_class=library_pool.connection_class,
        kwargs={
            **connection_kwargs(library_pool, _LIBRARY_CONNECTION_KWARGS),
            "connect_timeout": max(round(timeout), 1),
        },
        min_size=library_pool.min_size,
        max_size=library_pool.max_size,
        open=False,
        configure=configure,
        timeout=timeout,
        max_waiting=library_pool.max_waiting,
        max_lifetime=library_pool.max_lifetime,
        reconnect_timeout=timeout,
    )
    pool.watchdog = CallWatchdog(command_timeout)
    return pool
