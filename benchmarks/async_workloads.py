"""The cycles each asyncio task runs, on its own session: ours, and LangGraph's async saver.

A task's `NextCycle` builds the inputs of its next cycle (untimed) and hands back the
coroutine function that is timed. The turn is what a flow runtime does for a reply (route
it by scope, load, update, park again); the update + get cycle saves a flow's state and
reads it back. LangGraph's cycle is `aput` + `aget_tuple` of the task's own thread_id,
the same checkpoint shape as the sync baseline (`langgraph_baseline.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from benchmarks.async_store import AsyncStore
from benchmarks.databases import create_schema, libpq_url
from benchmarks.inputs import WAIT_TTL, Wait, ctx_of, data_of, new_wait, serial, unique_scope
from benchmarks.langgraph_baseline import Thread, found_checkpoint, saver_connection
from benchmarks.workloads import Conversation
from greentic_session import ReplyScope, SessionData, SessionKey

AsyncCycle = Callable[[], Awaitable[object]]
NextCycle = Callable[[], AsyncCycle]
Seed = Callable[[str], Awaitable[NextCycle]]  # a new task's cycles, for its own user
CYCLE, TURN = "update + get cycle", "turn"


def update_get(store: AsyncStore) -> Seed:
    """A session of the task's own; each cycle updates it, then reads it back."""

    async def cycle(key: SessionKey, data: SessionData) -> None:
        await store.update_session(key, data)
        assert await store.get_session(key) == data

    async def seed(user: str) -> NextCycle:
        key = await store.create_session(ctx_of(user), data_of(user, 0))
        return lambda: partial(cycle, key, data_of(user, serial()))

    return seed


def turns(store: AsyncStore) -> Seed:
    """A parked conversation of the task's own; each cycle is the turn of its next reply."""

    async def turn(talk: Conversation, data: SessionData, scope: ReplyScope) -> None:
        wait = talk.wait
        key = await store.find_wait_by_scope(wait.ctx, wait.user, wait.scope)
        assert key == wait.key, "the reply must find its wait"
        assert await store.get_session(key) is not None
        await store.update_session(key, data)
        await store.register_wait(wait.ctx, wait.user, scope, key, data, WAIT_TTL)
        talk.wait = Wait(wait.ctx, wait.user, scope, key)

    async def seed(user: str) -> NextCycle:
        wait = new_wait(user)
        await store.register_wait(wait.ctx, user, wait.scope, wait.key, data_of(user, 0), WAIT_TTL)
        talk = Conversation(wait)

        def next_cycle() -> AsyncCycle:
            scope = unique_scope(talk.wait.scope.conversation)
            return partial(turn, talk, data_of(user, serial()), scope)

        return next_cycle

    return seed


WORKLOADS: dict[str, Callable[[AsyncStore], Seed]] = {CYCLE: update_get, TURN: turns}


@asynccontextmanager
async def langgraph_async(url: str, pool_size: int) -> AsyncIterator[Seed]:
    """LangGraph's `AsyncPostgresSaver` over an `AsyncConnectionPool` of `pool_size`
    connections (opened with open=False, then awaited), in a fresh schema of `url`."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg_pool import AsyncConnectionPool

    create_schema(url)
    pool: Any = AsyncConnectionPool(
        libpq_url(url),
        min_size=pool_size,
        max_size=pool_size,
        kwargs=saver_connection(url),
        open=False,
    )
    await pool.open(wait=True)
    try:
        saver = AsyncPostgresSaver(pool)
        await saver.setup()

        async def cycle(thread: Thread, checkpoint: Any, versions: dict[str, Any]) -> None:
            parent = thread.latest or thread.config
            thread.latest = await saver.aput(parent, checkpoint, thread.metadata(), versions)
            found_checkpoint(await saver.aget_tuple(thread.config), checkpoint)

        async def seed(user: str) -> NextCycle:
            thread = Thread.named(user)

            def next_cycle() -> AsyncCycle:
                return partial(cycle, thread, *thread.next_checkpoint(saver, user))

            return next_cycle

        yield seed
    finally:
        await pool.close()
