"""Following the log as it is written, by polling positions: what `greentic-session tail`
runs, on every backend.

On SQLite and in memory, writes commit in position order. On PostgreSQL positions come
from a sequence drawn inside each writer's transaction, and no table lock orders the
commits (see `PostgresSessionRecorder.insert_events`): a write that drew position 41 may
commit just after one that drew 42 was read. Reading only "after the last position seen"
would then skip 41 forever. So each poll reads again a short window before the highest
position seen (`REREAD`) and prints only the positions it has not printed yet. A writer
commits within milliseconds of drawing its position, so a window of positions that many
later writes cannot cross is enough; reading "up to the lowest position an open
transaction still holds" would need the server's transaction internals instead.
"""

from __future__ import annotations

from greentic_session.domain.audit import SessionEvent
from greentic_session.domain.store import AuditedSessionStore

REREAD = 1000
"""Positions read again before the highest one seen, on each poll."""


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
    ) -> None:
        self._store = store
        self._floor = start  # what was logged before the follower began is not news
        self._high = start
        self._seen: set[int] = set()
        self._filters = {"tenant": tenant, "user": user, "session": session}
        self._batch = batch

    def poll(self) -> list[SessionEvent]:
        """Raises what `events_after` raises."""
        end = self._store.log_position()
        position = max(self._floor, self._high - REREAD)
        new: list[SessionEvent] = []
        while position < end:  # positions are unique whole numbers: a batch covers as many
            events = self._store.events_after(position, limit=self._batch, **self._filters)
            new += [event for event in events if event.position not in self._seen]
            position += self._batch
        self._seen |= {event.position for event in new}
        self._high = max(self._high, end)
        self._seen = {seen for seen in self._seen if seen > self._high - REREAD}
        return sorted(new, key=lambda event: event.position)
