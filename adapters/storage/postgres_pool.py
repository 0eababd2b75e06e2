"""The PostgreSQL connection pool: every wait bounded by the connect timeout, and no dead
connection ever handed out, so an outage fails fast and a restart is over at once."""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

from eventsourcing.postgres import ConnectionPool
from psycopg import Connection


class RecoveringPool(ConnectionPool[Connection[Any]]):
    """A connection the server closed while it sat idle in the pool (a restart, a crash)
    is never handed out: it and every other dead idle one are dropped before any statement
    is sent. So the first call after a restart works, writes included, and no write goes
    down a dead connection (where whether it committed would be unknown)."""

    def getconn(self, timeout: float | None = None) -> Connection[Any]:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        connection = super().getconn(timeout)
        if not _closed_by_server(connection):
            return connection
        connection.close()
        self.putconn(connection)  # closed: the pool replaces it
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


def recovering_pool(
    library_pool: ConnectionPool[Any], set_up: Callable[[Connection[Any]], None]
) -> RecoveringPool:
    """The library's pool, rebuilt (before it opens) with every wait bounded; `set_up`: the
    library's set-up of each new connection (see `library_seams.replace_pool`).

    The library gives the connect timeout to the pool only, as its wait for a free
    connection. Here it also bounds each connection attempt (libpq's default is 130 s:
    against a server that never answers the pool's workers would be stuck that long) and
    the pool's reconnection attempts in the background, which otherwise back off further
    and further during an outage (1, 2, 4, 8 s...), so that once the server is back calls
    would keep failing until the next attempt; given up early, a new request connects at
    once.
    """
    timeout = library_pool.timeout
    settings = library_pool.kwargs
    assert isinstance(settings, dict)  # the library passes a dict
    return RecoveringPool(
        connection_class=library_pool.connection_class,
        kwargs={**settings, "connect_timeout": max(round(timeout), 1)},
        min_size=library_pool.min_size,
        max_size=library_pool.max_size,
        open=False,
        configure=set_up,
        timeout=timeout,
        max_waiting=library_pool.max_waiting,
        max_lifetime=library_pool.max_lifetime,
        reconnect_timeout=timeout,
    )
