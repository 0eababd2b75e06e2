"""One write operation: the sessions it loaded, what they were, and what they became;
and the loop that commits it atomically, retrying when a concurrent writer won.

Both are coroutines over `StorePorts`: the sync store drives them without a loop
(`sync_driver.run_sync`), the async store awaits them; the logic exists once."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from greentic_session.adapters.service.state_cache import StateCache
from greentic_session.adapters.service.store_ports import StorePorts
from greentic_session.domain.aggregate import Session
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.operation import Operation, Trace
from greentic_session.domain.rules import Clock
from greentic_session.domain.state import SessionState
from greentic_session.projections.changes import Change, PutState, in_apply_order
from greentic_session.projections.projector import pending_changes
from greentic_session.projections.read_models import WaitEntry


class UnitOfWork:
    """Loads aggregates from the state read model (never by replay) and collects changes."""

    def __init__(
        self, models: StorePorts, cache: StateCache, op: Operation, *, fresh: bool = False
    ) -> None:
        """`fresh`: load every state from the read model, none from the cache."""
        self.op = op
        self._models = models
        self._cache = cache
        self._fresh = fresh
        self._loaded: dict[str, tuple[SessionState | None, Session]] = {}
        self._scopes_read: dict[str, WaitEntry | None] = {}
        self._used_cache = False

    async def load(self, key: SessionKey, *, fresh: bool = False) -> Session | None:
        """The key's aggregate, or None if the key never had a stream.

        `fresh`: from the read model even if this process cached the state it last wrote."""
        if key in self._loaded:
            return self._loaded[key][1]
        state = None if fresh or self._fresh else self._cache.get(key)
        self._used_cache = self._used_cache or state is not None
        state = state or await self._models.session_state(key)
        if state is None:
            return None
        session = Session.restore(state)
        self._loaded[key] = (state, session)
        return session

    def add(self, session: Session) -> None:
        """A new stream, started in this operation."""
        self._loaded[session.session_key] = (None, session)

    async def scope_entry(self, scope_key: str) -> WaitEntry | None:
        entry = await self._models.scope_entry(scope_key)
        self._scopes_read.setdefault(scope_key, entry)
        return entry

    async def may_have_missed_a_write(self) -> bool:
        """For a command that refused or appended nothing, which no clash can check: it
        decided on a cached state, or on a scope entry and a session read after it, and
        the entry has changed since (another write came between the reads)."""
        if self._used_cache:
            return True
        if not self._loaded:
            return False
        for key, entry in self._scopes_read.items():
            if await self._models.scope_entry(key) != entry:
                return True
        return False

    def sessions(self) -> list[Session]:
        return [session for _, session in self._loaded.values() if session.pending_events]

    def changes(self) -> list[Change]:
        changes: list[Change] = []
        for before, session in self._loaded.values():
            changes += pending_changes(before, session)
        return in_apply_order(changes)

    def keys(self) -> list[str]:
        return list(self._loaded)

    def keep_only_expiries(self) -> None:
        """After a failed command: drop everything but expiries it met (facts, not effects)."""
        for key, (_, session) in list(self._loaded.items()):
            if not all(isinstance(e, Session.WaitExpired) for e in session.pending_events):
                del self._loaded[key]


T = TypeVar("T")

log = logging.getLogger(__name__)

MAX_WRITE_ATTEMPTS = 20
MAX_BACKOFF_SECONDS = 0.1


class WriteLoop:
    """Runs a command in a fresh unit of work and commits it as one transaction.

    A clash (the stream's next version taken, or the scope claimed meanwhile) means another
    writer committed first: the command runs again on fresh state, after a jittered,
    growing pause that spreads contenders out. Last writer wins; nothing is half-written.
    """

    def __init__(self, ports: StorePorts, clock: Clock) -> None:
        self._ports = ports
        self._clock = clock
        self._cache = StateCache()

    async def run(
        self, command: Callable[[UnitOfWork], Awaitable[T]], trace: Trace, now: datetime | None
    ) -> T:
        """`now`: the operation's instant when not the clock's (a sweep at a given time).

        A stale read is caught by the append it leads to. A command that refuses or
        appends nothing runs again on states read from the database when it may have
        missed a write (`UnitOfWork.may_have_missed_a_write`)."""
        fresh = False
        for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
            op = Operation(now or self._clock(), trace)
            unit = UnitOfWork(self._ports, self._cache, op, fresh=fresh)
            try:
                result = await command(unit)
            except SessionError:
                if await unit.may_have_missed_a_write():
                    fresh = True
                    continue
                unit.keep_only_expiries()
                await self._commit(unit)
                raise
            if not unit.sessions() and await unit.may_have_missed_a_write():
                fresh = True
                continue
            if await self._commit(unit):
                return result
            log.debug("write conflict, attempt %d of %d; retrying", attempt, MAX_WRITE_ATTEMPTS)
            await self._ports.pause(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.001 * 2**attempt)))
        log.warning("write gave up after %d conflicting attempts", MAX_WRITE_ATTEMPTS)
        raise SessionError(
            ErrorCode.CONFLICT,
            f"gave up after {MAX_WRITE_ATTEMPTS} attempts: concurrent writers kept changing "
            "the same sessions; retry the operation",
        )

    async def _commit(self, unit: UnitOfWork) -> bool:
        """False when another writer committed first (or a cached state was stale)."""
        sessions = unit.sessions()
        if not sessions:
            return True
        changes = unit.changes()
        events = [event for session in sessions for event in session.collect_events()]
        try:
            appended = await self._ports.append(events, changes)
        except BaseException:
            self._cache.drop(unit.keys())  # committed or not: unknown (cancelled, too)
            raise
        if not appended:
            self._cache.drop(unit.keys())
            return False
        self._cache.put(change.state for change in changes if isinstance(change, PutState))
        return True
