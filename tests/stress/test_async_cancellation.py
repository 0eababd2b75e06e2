"""Tasks of the async store cancelled at random points, over many runs: no partial write
(the log verifies, the read models are its replay), every connection back in the pool,
and the store works on (every backend)."""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from greentic_session import AsyncSessionStore, SessionError
from tests.contract.async_fixtures import run_async
from tests.contract.helpers import CTX, USER, data_for
from tests.support import FakeClock, make_scope

pytestmark = pytest.mark.stress

ROUNDS = int(os.environ.get("GREENTIC_SESSION_CANCEL_ROUNDS", "40"))
TASKS = 12
SEED = int(os.environ.get("GREENTIC_SESSION_CANCEL_SEED", str(random.randrange(2**32))))
KEYS = [f"cancel-{n}" for n in range(6)]
SCOPES = [make_scope(f"chat-{n}") for n in range(3)]


async def one_operation(store: AsyncSessionStore, rng: random.Random) -> None:
    key, scope = rng.choice(KEYS), rng.choice(SCOPES)
    data = data_for(node=f"n{rng.randrange(1000)}")
    choice = rng.randrange(5)
    if choice == 0:
        await store.register_wait(CTX, USER, scope, key, data)
    elif choice == 1:
        await store.update_session(key, data)
    elif choice == 2:
        await store.clear_wait(CTX, USER, scope)
    elif choice == 3:
        await store.remove_session(key, ctx=CTX)
    else:
        await store.find_wait_by_scope(CTX, USER, scope)


def test_tasks_cancelled_at_random_points_leave_the_store_whole(
    store_url: str, fake_clock: FakeClock
) -> None:
    print(f"seed {SEED} (GREENTIC_SESSION_CANCEL_SEED), {ROUNDS} rounds")
    rng = random.Random(SEED)

    async def body(store: AsyncSessionStore) -> int:
        cancelled = 0
        for _ in range(ROUNDS):
            tasks = [asyncio.create_task(one_operation(store, rng)) for _ in range(TASKS)]
            await asyncio.sleep(rng.uniform(0, 0.004))
            for task in tasks:
                if rng.random() < 0.6:
                    task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, asyncio.CancelledError):
                    cancelled += 1
                elif outcome is not None and not isinstance(outcome, SessionError):
                    raise outcome  # only refusals (not_found, conflict) are expected
        await store.register_wait(CTX, USER, SCOPES[0], KEYS[0], data_for(node="after"))
        assert await store.find_wait_by_scope(CTX, USER, SCOPES[0]) == KEYS[0]
        report = await store.verify()
        assert report.ok, report
        assert await store.replay_read_models() == await store.current_read_models()
        stats = store.pool_stats()
        for _ in range(100):  # the pool replaces a connection cancelled mid-query in the background
            if not stats or stats["pool_available"] == stats["pool_size"]:
                break
            await asyncio.sleep(0.05)
            stats = store.pool_stats()
        if stats:
            assert stats["pool_available"] == stats["pool_size"], stats
        return cancelled

    cancelled = run_async(store_url, fake_clock, body)
    # How many land before their task ends depends on the backend's speed and the load
    # (memory's calls are quick); over 40 rounds of 12 tasks some always do.
    assert cancelled > 0, "no cancellation landed before its task ended: nothing was tested"
