"""One copy of every command for the sync and the async store: the commands are
coroutines, and the sync store drives them here, with no event loop.

The sync store's ports (`LogPorts` with `at_once`) do their I/O when called and return
without ever suspending, so one `send` runs a command to its end. A port that did
suspend would be a bug in the wiring, reported as such rather than waited on.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(command: Coroutine[Any, Any, T]) -> T:
    """The command's result (or its exception), run on the calling thread.

    Raises `RuntimeError` when the command awaits something that suspends: a sync store
    was wired with an async port."""
    try:
        command.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    command.close()
    raise RuntimeError("a sync store's command suspended: it was given an async port")


async def at_once(call: Callable[[], T]) -> T:
    """The sync store's way to run an I/O call: right here, on the caller's thread."""
    return call()
