"""What the store's commands need of a backend, as coroutines: the read-model lookups
and the atomic append. The sync store and the async store run the same commands over
different ports; only the ports know whether I/O blocks, goes to a worker thread, or
awaits an asyncio driver."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import IntegrityError

from greentic_session.adapters.storage.session_log import READ_MODEL_CHANGES, SessionLog
from greentic_session.domain.state import SessionState
from greentic_session.projections.changes import Change
from greentic_session.projections.read_models import ReadModelReader, StoredData, WaitEntry

T = TypeVar("T")

Events = Sequence[CanMutateAggregate[UUID]]
"""The new events of one write, in the order they are appended."""


class Runner(Protocol):
    """How a port runs one blocking call: at once (the sync store) or on a worker thread."""

    def __call__(self, call: Callable[[], T], /) -> Awaitable[T]: ...


class StorePorts(Protocol):
    """The lookups the commands make, and the one write they end with."""

    async def session_state(self, session_key: str) -> SessionState | None: ...

    async def session_data(self, session_key: str) -> StoredData | None: ...

    async def scope_entry(self, scope_key: str) -> WaitEntry | None: ...

    async def user_waits(self, user_key: str) -> list[WaitEntry]: ...

    async def due_sessions(self, now: datetime) -> list[str]: ...

    async def keys_with_prefix(self, prefix: str, limit: int) -> list[str]: ...

    async def append(self, events: Events, changes: list[Change]) -> bool:
        """The events and their read-model changes in one transaction; False, with nothing
        written, when another writer took one of the streams' next versions first."""

    async def pause(self, seconds: float) -> None:
        """The backoff between two attempts of a clashing write."""


class LogPorts:
    """The ports over a sync backend (the eventsourcing log and its read-model reader),
    each call run by `run`: at once for the sync store, on the async store's worker
    thread for SQLite and memory."""

    def __init__(
        self,
        log_app: SessionLog,
        reader: ReadModelReader,
        run: Runner,
        pause: Callable[[float], Awaitable[None]],
    ) -> None:
        self._log = log_app
        self._reader = reader
        self._run = run
        self._pause = pause

    async def session_state(self, session_key: str) -> SessionState | None:
        return await self._run(lambda: self._reader.session_state(session_key))

    async def session_data(self, session_key: str) -> StoredData | None:
        return await self._run(lambda: self._reader.session_data(session_key))

    async def scope_entry(self, scope_key: str) -> WaitEntry | None:
        return await self._run(lambda: self._reader.scope_entry(scope_key))

    async def user_waits(self, user_key: str) -> list[WaitEntry]:
        return await self._run(lambda: self._reader.user_waits(user_key))

    async def due_sessions(self, now: datetime) -> list[str]:
        return await self._run(lambda: self._reader.due_sessions(now))

    async def keys_with_prefix(self, prefix: str, limit: int) -> list[str]:
        return await self._run(lambda: self._reader.keys_with_prefix(prefix, limit))

    async def append(self, events: Events, changes: list[Change]) -> bool:
        def put() -> bool:
            try:
                # The event store directly: `Application.save` would add snapshotting,
                # notification and runtime protocol checks this store does not use.
                self._log.events.put(events, **{READ_MODEL_CHANGES: changes})
            except IntegrityError:
                return False
            return True

        return await self._run(put)

    async def pause(self, seconds: float) -> None:
        await self._pause(seconds)


async def blocking_pause(seconds: float) -> None:
    """The sync store's backoff: the calling thread sleeps (it never suspends)."""
    time.sleep(seconds)
