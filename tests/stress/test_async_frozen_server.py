"""A server frozen under an open async store (SIGSTOP: its sockets open, nothing
answers, not even a cancel): every call is `timeout` once `command_timeout` and the
grace after it have passed, and the store works again once the server does."""

from __future__ import annotations

import asyncio
import time

import pytest

from greentic_session import ErrorCode, SessionError, open_async_store
from greentic_session.adapters.storage.postgres_deadline import ABORT_GRACE
from tests.stress.outage import CTX, MARGIN, USER
from tests.stress.private_server import PrivateServer
from tests.support import make_data, make_scope

pytestmark = [pytest.mark.postgres, pytest.mark.stress]

COMMAND_TIMEOUT = 2


def test_a_frozen_server_makes_async_calls_time_out_within_command_timeout(
    server: PrivateServer,
) -> None:
    url = f"{server.url()}&command_timeout={COMMAND_TIMEOUT}"
    scope = make_scope("frozen")

    async def main() -> tuple[list[object], float, object]:
        async with open_async_store(url) as store:
            key = await store.create_session(CTX, make_data(CTX))
            await asyncio.gather(*[store.get_session(key) for _ in range(8)])  # warm pool
            server.freeze()
            try:
                started = time.monotonic()
                outcomes = await asyncio.gather(
                    store.get_session(key),
                    store.update_session(key, make_data(CTX, node="frozen")),
                    store.find_wait_by_scope(CTX, USER, scope),
                    return_exceptions=True,
                )
                seconds = time.monotonic() - started
            finally:
                server.thaw()
            after = await store.get_session(key)
        return list(outcomes), seconds, after

    outcomes, seconds, after = asyncio.run(main())
    print(f"frozen: {outcomes} in {seconds:.2f} s")
    for outcome in outcomes:
        assert isinstance(outcome, SessionError) and outcome.code is ErrorCode.TIMEOUT, outcome
    assert seconds <= COMMAND_TIMEOUT + ABORT_GRACE + MARGIN, seconds
    assert after is not None, "the store works again once the server is back"
