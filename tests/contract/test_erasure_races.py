"""Erasure racing the session's own writers, from several threads of one store: every
write lands wholly before the erasure (and is erased) or is refused after it (`not_found`:
the session ended), never half; the erasure is never starved by them; the log verifies
and every event before the erasure is erased."""

from __future__ import annotations

import threading
from functools import partial

from greentic_session import ErrorCode, SessionError
from greentic_session.domain.store import AuditedSessionStore
from tests.contract.helpers import SCOPE_A, data_for, wait
from tests.support import run_together

WRITERS = 3
ROUNDS = 3
MAX_UPDATES = 400


class Writers:
    """Threads updating one session until the erasure ends it, counting what landed."""

    def __init__(self, store: AuditedSessionStore, key: str) -> None:
        self.store = store
        self.key = key
        self.landed = 0
        self._lock = threading.Lock()

    def write(self, writer: int) -> None:
        for step in range(MAX_UPDATES):
            try:
                self.store.update_session(self.key, data_for(node=f"w{writer}-{step}"))
            except SessionError as exc:
                assert exc.code is ErrorCode.NOT_FOUND, exc
                return
            with self._lock:
                self.landed += 1
        raise AssertionError("the erasure never ended the session")


def _race(store: AuditedSessionStore, key: str) -> int:
    """Writers and one erasure started at once; how many updates landed."""
    wait(store, key, SCOPE_A)
    writers = Writers(store, key)
    erase = partial(store.erase, session=key, reason=f"race on {key}")
    assert run_together([*(partial(writers.write, n) for n in range(WRITERS)), erase]) == []
    return writers.landed


def test_an_erasure_racing_writers_erases_every_write_that_landed_before_it(
    store: AuditedSessionStore,
) -> None:
    for round_number in range(ROUNDS):
        key = f"raced-{round_number}"
        landed = _race(store, key)
        history = store.history(key)
        assert all(entry.erased for entry in history[:-1])
        assert history[-1].erased_events == len(history) - 1 == 2 + landed  # the wait's two
        assert store.get_session(key) is None
        report = store.verify()
        assert report.ok, report.problems
        assert report.erasures[-1].session_key == key
