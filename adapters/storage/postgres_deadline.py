"""A deadline on every PostgreSQL call, for the server that stops answering.

The server cancels a statement that runs past `command_timeout` itself (its
`statement_timeout`, set on every connection). A server that answers nothing at all (its
processes frozen, a hung host whose kernel still acknowledges) can neither do that nor
take a cancel request, which needs a new connection to it: psycopg's cancel would wait
just as long. The one way to stop waiting is to shut the connection's socket under the
blocked call, which then fails at once; the pool replaces the connection.

The sync store's pool hands each connection out under a `CallWatchdog`: one thread per
store, started at the first call, waking at the next deadline. The async store shuts its
connections the same way from the event loop (`postgres_async`).
"""

from __future__ import annotations

import heapq
import logging
import os
import socket
import threading
import time
from typing import Any

from psycopg import Connection

from greentic_session.domain.errors import ErrorCode, SessionError

COMMAND_TIMEOUT = "POSTGRES_COMMAND_TIMEOUT"
"""The setting `bootstrap.urls` passes the URL option `command_timeout` as."""
DEFAULT_COMMAND_TIMEOUT = 30.0
"""Seconds, when the URL does not say."""
ABORT_GRACE = 1.0
"""Seconds past the deadline before a connection whose server did not cancel is shut."""

SCAN_INTERVAL = 0.25
"""Seconds at least between two looks of the watchdog: its deadlines are that coarse."""

log = logging.getLogger(__name__)


def shut(fileno: int) -> None:
    """The socket under a connection shut: a call blocked on it fails at once."""
    log.warning("PostgreSQL did not answer past command_timeout: closing the connection")
    try:
        with socket.socket(fileno=os.dup(fileno)) as shut_socket:
            shut_socket.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: the call fails on its own


class CallWatchdog:
    """Shuts a connection out of the pool past its deadline, and remembers it: the
    pool, when the connection comes back, raises `SessionError(timeout)` in place of
    the driver's error about a closed connection (see `RecoveringPool.putconn`)."""

    def __init__(self, command_timeout: float) -> None:
        """`command_timeout`: seconds, 0 for no deadline."""
        self.command_timeout = command_timeout
        self._cond = threading.Condition()
        self._due: dict[int, tuple[float, Connection[Any]]] = {}  # by id(connection)
        self._heap: list[tuple[float, int]] = []
        self._abandoned: set[int] = set()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def watch(self, connection: Connection[Any], seconds: float | None = None) -> None:
        """From now on `connection` has `seconds` (default `command_timeout`; 0: none)."""
        limit = self.command_timeout if seconds is None else seconds
        with self._cond:
            self._due.pop(id(connection), None)
            if not limit:
                return
            when = time.monotonic() + limit + ABORT_GRACE
            self._due[id(connection)] = (when, connection)
            heapq.heappush(self._heap, (when, id(connection)))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="greentic-session-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def release(self, connection: Connection[Any]) -> bool:
        """The connection is back: True when it was shut past its deadline."""
        with self._cond:
            self._due.pop(id(connection), None)
            if id(connection) in self._abandoned:
                self._abandoned.discard(id(connection))
                return True
            return False

    def stop(self) -> None:
        """The thread ends (the store's pool closed); a later `watch` starts another."""
        with self._cond:
            self._stopping = True
            self._due.clear()
            self._heap.clear()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    self._stopping, self._thread = False, None
                    return
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    when, key = heapq.heappop(self._heap)
                    entry = self._due.get(key)
                    if entry is not None and entry[0] == when:
                        del self._due[key]
                        self._abandoned.add(key)
                        _shut_connection(entry[1])
                # Not at every deadline: most are of calls long returned, and a store doing
                # a thousand calls a second would wake this thread as often.
                timeout = max(self._heap[0][0] - now, SCAN_INTERVAL) if self._heap else None
                self._cond.wait(timeout)


def _shut_connection(connection: Connection[Any]) -> None:
    try:
        fileno = connection.fileno()
    except Exception:  # closed meanwhile
        return
    shut(fileno)


def abandoned(command_timeout: float) -> SessionError:
    """The error of a call whose server did not answer within its deadline."""
    return SessionError(
        ErrorCode.TIMEOUT,
        f"PostgreSQL did not answer within the call's deadline (command_timeout="
        f"{command_timeout:g} s; for verify, rebuild and import, long_operation_timeout a "
        "batch); the call was abandoned (a write may or may not have committed: read it "
        "back); check the server, or raise that timeout in the URL",
    )
