"""Following the log as it is written, by polling positions: what `greentic-session tail`
runs, on every backend.

On SQLite and in memory, writes commit in position order. On PostgreSQL positions come
from a sequence drawn inside each writer's transaction, and no table lock orders the
commits (see `PostgresSessionRecorder.insert_events`): a write that drew position 41 may
commit just after one that drew 42 was read. Reading only "after the last position seen"
would then skip 41 forever. Reading only up to a position no open transaction can still
take would need the server's transaction internals (and rights on them). So each poll
reads again what may not have settled: every position after the log's end as it was
`SETTLE_SECONDS` ago (a writer commits within milliseconds of drawing its position; one
that takes longer than that is missed), and prints only the positions it has not
printed yet. An idle log is not read at all; a busy one is read again for those seconds
only, at most `MAX_REREAD` positions back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from greentic_session.domain.audit import SessionEvent
from greentic_session.domain.store import AuditedSessionStore

SETTLE_SECONDS = 10.0
"""How long after a position is visible a lower one may still commit (PostgreSQL)."""
MAX_REREAD = 10_000
"""Positions read again at the most, before the highest one read."""


class LogFollower:
    """Each `poll` returns the events written since the last (or since `start`), once each,
    in log order, of the tenant, user or session asked for."""

    def __init__(
        self,
        store: AuditedSessionStore,
        start: int,
        *,
        tenant: str | None = None,
        user: str | None = None,
        session: str | None = None,
        batch: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._settled = start  # what was logged before the follower began is not news
        self._high = start
        self._ends: list[tuple[float, int]] = []  # (when, the log's end then), oldest first
        self._printed: set[int] = set()
        self._filters = {"tenant": tenant, "user": user, "session": session}
        self._batch = batch
        self._clock = clock

    def poll(self) -> list[SessionEvent]:
        """Raises what `events_after` raises."""
        now, end = self._clock(), self._store.log_position()
        while self._ends and now - self._ends[0][0] >= SETTLE_SECONDS:
            self._settled = max(self._settled, self._ends.pop(0)[1])
        position = max(self._settled, self._high - MAX_REREAD)
        new: dict[int, SessionEvent] = {}  # batches overlap where positions have gaps
        while position < end:  # positions are unique whole numbers: a batch covers as many
            events = self._store.events_after(position, limit=self._batch, **self._filters)
            new |= {e.position: e for e in events if e.position not in self._printed}
            position += self._batch
        self._ends.append((now, end))
        self._high = max(self._high, end)
        self._printed = {p for p in self._printed if p > self._settled}
        self._printed |= set(new)
        return [new[position] for position in sorted(new)]
