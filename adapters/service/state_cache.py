"""Sessions this process wrote last: a write that finds its session here skips the read.

Safe without any invalidation protocol because the log decides: a state is keyed by its
stream version, and a write built on a stale state appends a version another writer has
already taken. The append then fails, the write drops the entry and runs again on state
read from the database. A write that appends nothing (a refusal, a no-op) cannot be
caught that way, so it runs again on states read from the database (`WriteLoop`).
Only writes use the cache; `get_session` always reads the database, so it sees other
processes' writes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from greentic_session.domain.state import SessionState

DEFAULT_CACHE_SIZE = 10_000


class StateCache:
    """At most `size` states; the oldest entry goes first."""

    def __init__(self, size: int = DEFAULT_CACHE_SIZE) -> None:
        self._size = size
        self._states: dict[str, SessionState] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> SessionState | None:
        return self._states.get(key)

    def put(self, states: Iterable[SessionState]) -> None:
        with self._lock:
            for state in states:
                self._states.pop(state.session_key, None)
                self._states[state.session_key] = state
            while len(self._states) > self._size:
                del self._states[next(iter(self._states))]

    def drop(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._states.pop(key, None)
