"""Calls made during and after a PostgreSQL outage, and what became of them: how long
each took and what it raised."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from greentic_session import (
    ErrorCode,
    EventSourcedSessionStore,
    ReplyScope,
    SessionError,
    SessionKey,
    open_store,
)
from tests.support import make_ctx, make_data, make_scope

CTX = make_ctx(user="alice")
USER = "alice"
BOUND = 2  # seconds: the connect timeout these tests set (the smallest libpq honours)
MARGIN = 1.0  # thread scheduling, the pool's bookkeeping, a busy CI machine
HANG = 30.0  # a call still running after this long is reported as hung, not waited for


# -- calls and what became of them ---------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    seconds: float
    error: Exception | None = None
    finished: bool = True

    def __str__(self) -> str:
        if not self.finished:
            return f"still running after {self.seconds:.1f} s (hung)"
        if self.error is None:
            return f"succeeded in {self.seconds:.3f} s"
        return f"{type(self.error).__name__} after {self.seconds:.3f} s: {self.error}"


def timed(call: Callable[[], object]) -> Outcome:
    started = time.monotonic()
    try:
        call()
    except Exception as exc:  # judged by the caller
        return Outcome(time.monotonic() - started, exc)
    return Outcome(time.monotonic() - started)


def all_at_once(
    calls: dict[str, Callable[[], object]], patience: float = HANG
) -> dict[str, Outcome]:
    """Each call in a thread of its own, all started together and each timed on its own. A
    call still running after `patience` seconds is left behind (a daemon thread) as hung."""
    outcomes: dict[str, Outcome] = {}
    barrier = threading.Barrier(len(calls))

    def run(name: str, call: Callable[[], object]) -> None:
        barrier.wait()
        outcomes[name] = timed(call)

    threads = [
        threading.Thread(target=run, args=(name, call), daemon=True) for name, call in calls.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + patience
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    return {name: outcomes.get(name, Outcome(patience, finished=False)) for name in calls}


def is_unavailable(outcome: Outcome) -> bool:
    error = outcome.error
    return (
        isinstance(error, SessionError)
        and error.code is ErrorCode.UNAVAILABLE
        and error.__cause__ is not None  # the driver's own reason, for the operator
    )


# -- every kind of call --------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """A session waiting in a scope: two events, so versions 1 and 2 exist."""

    key: SessionKey
    scope: ReplyScope


def seed(store: EventSourcedSessionStore) -> Seeded:
    scope = make_scope("conversation-1")
    key = store.create_session(CTX, make_data(CTX, node="seeded"))
    store.register_wait(CTX, USER, scope, key, make_data(CTX, node="waiting"))
    return Seeded(key, scope)


def every_call(store: EventSourcedSessionStore, seeded: Seeded) -> dict[str, Callable[[], object]]:
    """Every store method that reaches the database, on the seeded session."""
    key, scope = seeded.key, seeded.scope
    return {
        "get_session": lambda: store.get_session(key),
        "find_wait_by_scope": lambda: store.find_wait_by_scope(CTX, USER, scope),
        "list_waits_for_user": lambda: store.list_waits_for_user(CTX, USER),
        "create_session": lambda: store.create_session(CTX, make_data(CTX, node="created")),
        "update_session": lambda: store.update_session(key, make_data(CTX, node="updated")),
        "register_wait": lambda: store.register_wait(
            CTX, USER, make_scope("conversation-2"), key, make_data(CTX, node="waiting-2")
        ),
        "clear_wait": lambda: store.clear_wait(CTX, USER, scope),
        "remove_session": lambda: store.remove_session(key),
        "sweep_expired": lambda: store.sweep_expired(),
        "history": lambda: store.history(key),
        "get_session_at": lambda: store.get_session_at(key, version=1),
        "diff": lambda: store.diff(key, 1, 2),
        "explain": lambda: store.explain(CTX, USER, scope),
        "verify": lambda: store.verify(),
        "rebuild_projections": lambda: store.rebuild_projections(),
        "export_events": lambda: store.export_events(io.StringIO()),
        "import_events": lambda: store.import_events(io.StringIO("")),
        "current_read_models": lambda: store.current_read_models(),
        "replay_read_models": lambda: store.replay_read_models(),
    }


def warm_up(store: EventSourcedSessionStore, seeded: Seeded) -> None:
    """Several pooled connections, all idle: what a restart leaves broken under the store."""

    def read() -> None:
        for _ in range(30):
            store.get_session(seeded.key)

    for name, outcome in all_at_once({f"reader {n}": read for n in range(6)}).items():
        assert outcome.error is None, f"{name}: {outcome}"


def opened(url: str) -> EventSourcedSessionStore:
    store = open_store(url)
    assert isinstance(store, EventSourcedSessionStore)
    return store
