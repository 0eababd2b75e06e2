"""The async store under test, on every backend: opened inside the test's own event loop
(`asyncio.run` per test; no plugin), with the sync store's fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from greentic_session import AsyncSessionStore, open_async_store
from tests.support import FakeClock

T = TypeVar("T")


def run_async(
    url: str,
    clock: FakeClock,
    body: Callable[[AsyncSessionStore], Coroutine[Any, Any, T]],
) -> T:
    """`body(store)` in a fresh event loop, on an async store opened on `url`."""

    async def main() -> T:
        async with open_async_store(url, clock=clock) as store:
            return await body(store)

    return asyncio.run(main())


async def gather_all(calls: list[Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*calls))
