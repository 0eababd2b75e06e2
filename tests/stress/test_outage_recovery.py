"""A PostgreSQL server that comes back under an open store (issue #5): the first calls
after a restart succeed, and nothing acknowledged before it is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from greentic_session import EventSourcedSessionStore, EventType, SessionData, SessionKey
from tests.stress.outage import (
    BOUND,
    CTX,
    HANG,
    MARGIN,
    USER,
    Outcome,
    every_call,
    is_unavailable,
    opened,
    seed,
    timed,
    warm_up,
)
from tests.stress.private_server import PrivateServer
from tests.support import make_data, make_scope

pytestmark = [pytest.mark.postgres, pytest.mark.stress]


def wait_until(condition: Callable[[], bool], what: str, seconds: float = HANG) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s in vain for {what}"
        time.sleep(0.01)


# -- after the restart ---------------------------------------------------------------------

# One of each way a call reaches the database: the read models (point lookups, a snapshot),
# a write with and without a read first, the log by stream and whole (with the library's
# reader), and the rebuild's transaction.
FIRST_CALLS = [
    "get_session",
    "create_session",
    "update_session",
    "register_wait",
    "history",
    "explain",
    "export_events",
    "verify",
    "current_read_models",
    "rebuild_projections",
]


@pytest.mark.parametrize("shutdown", ["fast", "immediate"])
def test_after_a_restart_every_kind_of_call_succeeds_at_the_first_try(
    server: PrivateServer, shutdown: str
) -> None:
    """The pool is full of connections the restart broke; none of them reaches a caller."""
    outcomes: dict[str, Outcome] = {}
    with opened(server.url()) as store:
        seeded = seed(store)
        calls = every_call(store, seeded)
        for name in FIRST_CALLS:
            warm_up(store, seeded)
            server.stop(shutdown)
            server.start()
            outcomes[name] = timed(calls[name])
    print(f"the first call after a restart ({shutdown} shutdown):")
    for name, outcome in outcomes.items():
        print(f"  {name}: {outcome}")
    failed = [f"{name}: {outcome}" for name, outcome in outcomes.items() if outcome.error]
    assert not failed, "failed on the first try after the restart:\n" + "\n".join(failed)


LONG_OUTAGE = 8.0  # seconds: past a few doublings of the pool's reconnection backoff


def test_after_a_long_outage_under_load_the_first_calls_succeed(server: PrivateServer) -> None:
    """Calls keep coming during the outage; the first ones after the restart must not wait
    for a reconnection attempt the pool put off further and further while the server was
    down (its backoff doubles from 1 s)."""
    with opened(server.url()) as store:
        seeded = seed(store)
        warm_up(store, seeded)
        calls = every_call(store, seeded)
        server.stop()
        down = time.monotonic()
        during = []
        while time.monotonic() - down < LONG_OUTAGE:
            during += [timed(calls["get_session"]), timed(calls["update_session"])]
        server.start()
        read, write = timed(calls["get_session"]), timed(calls["update_session"])
    slowest = max(during, key=lambda outcome: outcome.seconds)
    print(f"{len(during)} calls in a {LONG_OUTAGE} s outage, the slowest: {slowest}")
    print(f"then, after the restart: get_session {read}; update_session {write}")
    wrong = [str(outcome) for outcome in during if not is_unavailable(outcome)]
    wrong += [str(o) for o in during if o.seconds > BOUND + MARGIN]
    assert not wrong, wrong
    assert read.error is None and write.error is None, (read, write)


# -- nothing acknowledged is lost ----------------------------------------------------------


@dataclass(frozen=True)
class Write:
    kind: str  # "register_wait" (a new session waiting in its own scope) or "update_session"
    label: str  # the new session's key and scope, and the node its data points at
    started: float
    outcome: Outcome


class Writer(threading.Thread):
    """Writes without a pause until halted, and notes what became of each write."""

    def __init__(self, store: EventSourcedSessionStore, shared: SessionKey, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.store = store
        self.shared = shared
        self.writes: list[Write] = []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            n += 1
            label = f"{self.name}-{n}"
            self._write("register_wait", label, self._register)
            self._write("update_session", label, self._update)

    def _register(self, label: str) -> None:
        data = make_data(CTX, node=label)
        self.store.register_wait(CTX, USER, make_scope(label), SessionKey(label), data)

    def _update(self, label: str) -> None:
        self.store.update_session(self.shared, make_data(CTX, node=label))

    def _write(self, kind: str, label: str, write: Callable[[str], None]) -> None:
        started = time.monotonic()
        self.writes.append(Write(kind, label, started, timed(lambda: write(label))))

    def acknowledged_since(self, instant: float) -> int:
        return sum(w.outcome.error is None for w in self.writes if w.started >= instant)

    def failed_since(self, instant: float) -> int:
        return sum(w.outcome.error is not None for w in self.writes if w.started >= instant)


@pytest.mark.parametrize("shutdown", ["fast", "immediate"])
def test_nothing_acknowledged_is_lost_across_a_restart(
    server: PrivateServer, shutdown: str
) -> None:
    """Writers keep writing while the server stops (cleanly, or as in a crash) and starts
    again. Every acknowledged write is in the log and the read models; a write that raised
    `unavailable` may or may not have committed, but it is there whole or not at all."""
    with opened(server.url()) as store:
        shared = store.create_session(CTX, make_data(CTX, node="start"))
        writers = [Writer(store, shared, f"writer{n}") for n in range(3)]
        for writer in writers:
            writer.start()
        try:
            wait_until(lambda: all(w.acknowledged_since(0) >= 20 for w in writers), "writes")
            server.stop(shutdown)
            down = time.monotonic()
            wait_until(lambda: all(w.failed_since(down) >= 1 for w in writers), "failures")
            server.start()
            up = time.monotonic()
            wait_until(lambda: all(w.acknowledged_since(up) >= 20 for w in writers), "recovery")
        finally:
            for writer in writers:
                writer.halt.set()
            for writer in writers:
                writer.join(HANG)
        writes = [write for writer in writers for write in writer.writes]
        describe(writes, down, up)
        assert_failures_were_unavailable_in_time(writes)
        assert_first_writes_after_the_restart_succeeded(writers, up)
        committed = assert_updates_are_all_there_once(store, shared, writes)
        committed += assert_new_sessions_are_whole_or_absent(store, writes)
        print(f"  {committed} of the failed writes had committed nonetheless (whole)")
        report = store.verify()
        assert report.ok, report.problems
        assert store.current_read_models() == store.replay_read_models()


def describe(writes: list[Write], down: float, up: float) -> None:
    failed = [w for w in writes if w.outcome.error is not None]
    slowest = max((w.outcome.seconds for w in failed), default=0.0)
    print(
        f"{len(writes) - len(failed)} writes acknowledged, {len(failed)} failed "
        f"(the slowest failure took {slowest:.3f} s); the server was down for "
        f"{up - down:.2f} s"
    )


def assert_failures_were_unavailable_in_time(writes: list[Write]) -> None:
    wrong = [
        f"{w.kind} {w.label}: {w.outcome}"
        for w in writes
        if w.outcome.error is not None
        and not (is_unavailable(w.outcome) and w.outcome.seconds <= BOUND + MARGIN)
    ]
    assert not wrong, "\n".join(wrong)


def assert_first_writes_after_the_restart_succeeded(writers: list[Writer], up: float) -> None:
    for writer in writers:
        first = next(w for w in writer.writes if w.started >= up)
        print(f"  {writer.name}: first write begun after the restart {first.outcome}")
        assert first.outcome.error is None, f"{writer.name}: {first.kind} {first.outcome}"


def assert_updates_are_all_there_once(
    store: EventSourcedSessionStore, shared: SessionKey, writes: list[Write]
) -> int:
    """How many updates that failed are in the log nonetheless."""
    updates = [e for e in store.history(shared) if e.type is EventType.UPDATED]
    logged = [node_of(e.data) for e in updates]
    attempted = {w.label: w for w in writes if w.kind == "update_session"}
    assert set(logged) <= set(attempted), "an update nobody made"
    committed = 0
    for label, write in attempted.items():
        times = logged.count(label)
        if write.outcome.error is None:
            assert times == 1, f"acknowledged update {label} is in the log {times} times"
        else:
            assert times <= 1, f"failed update {label} is in the log {times} times"
            committed += times
    assert store.get_session(shared) == updates[-1].data, "the state is not the last update"
    return committed


def assert_new_sessions_are_whole_or_absent(
    store: EventSourcedSessionStore, writes: list[Write]
) -> int:
    """How many new sessions whose write failed are there nonetheless."""
    committed = 0
    for write in writes:
        if write.kind != "register_wait":
            continue
        key = SessionKey(write.label)
        events = store.history(key)
        holder = store.find_wait_by_scope(CTX, USER, make_scope(write.label))
        data = store.get_session(key)
        if write.outcome.error is None:
            assert events, f"acknowledged {write.label} is not in the log"
        if events:
            committed += write.outcome.error is not None
            kinds = [e.type for e in events]
            assert kinds == [EventType.CREATED, EventType.WAIT_REGISTERED], (write, kinds)
            assert holder == key, f"{write.label} is in the log but not in the scope index"
            assert data == make_data(CTX, node=write.label), f"{write.label}: state {data}"
        else:
            assert holder is None and data is None, f"{write.label}: in read models only"
    return committed


def node_of(data: SessionData | None) -> str:
    assert data is not None
    return data.cursor.node_pointer
