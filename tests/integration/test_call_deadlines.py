"""The sync store's call deadlines on PostgreSQL: one watchdog thread per open store,
gone when the store closes (a process opening many stores does not pile them up)."""

from __future__ import annotations

import threading

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
