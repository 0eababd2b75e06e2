"""The sync store's call deadlines on PostgreSQL: one watchdog thread per open store,
gone when the store closes (a process opening many stores does not pile them up)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import open_store
from tests.contract.helpers import CTX, data_for

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def watchdogs() -> int:
    return sum(t.name == "greentic-session-deadlines" for t in threading.enumerate())


def test_closing_a_store_ends_its_watchdog_thread(store_url: str) -> None:
    before = watchdogs()
    store = open_store(store_url)
    store.create_session(CTX, data_for())
    assert watchdogs() == before + 1, "a store's first call starts its watchdog"
    store.close()
    for _ in range(100):
        if watchdogs() == before:
            break
        threading.Event().wait(0.02)
    assert watchdogs() == before


def test_a_store_opened_and_closed_many_times_leaves_no_watchdog(store_url: str) -> None:
    before = watchdogs()
    for _ in range(5):
        with open_store(store_url) as store:
            store.get_session("k")
    threading.Event().wait(0.1)
    assert watchdogs() == before


def test_a_long_operation_may_outlast_its_deadline_if_no_batch_does(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`long_operation_timeout` bounds one batch of a long read (or the pause between two),
    never the whole operation: a verify of a million events takes longer than any batch.
    Here batches of 20 events, a pause of 0.3 s every 10 events, `long_operation_timeout=1`:
    the verify takes over 3 s, past the watchdog's 1 s + grace, and must still pass."""
    from greentic_session.adapters.storage import postgres
    from greentic_session.projections import log_verification

    with open_store(store_url) as store:
        for n in range(60):
            store.create_session(CTX, data_for(node=f"n{n}"))
            store.create_session(CTX, data_for(node=f"m{n}"))
    monkeypatch.setattr(postgres, "LOG_BATCH", 20)
    monkeypatch.setattr(log_verification, "PROGRESS_EVERY", 10)
    started = threading.Event()

    def slow(done: int, total: int | None) -> None:
        started.set()
        threading.Event().wait(0.3)

    with open_store(f"{store_url}&long_operation_timeout=1") as store:
        begun = time.monotonic()
        report = store.verify(progress=slow)
        took = time.monotonic() - begun
    assert started.is_set() and took > 3, f"the verify took {took:.1f} s: not long enough"
    assert report.ok, report.problems
