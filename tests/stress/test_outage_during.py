"""A PostgreSQL server that goes away under an open store (issue #5): stopped, crashed,
silent or frozen, every call is `unavailable` within the connect timeout."""

from __future__ import annotations

import pytest

from greentic_session import ErrorCode, SessionError
from greentic_session.adapters.storage.postgres_deadline import ABORT_GRACE
from tests.stress.outage import (
    BOUND,
    MARGIN,
    Outcome,
    all_at_once,
    every_call,
    is_unavailable,
    opened,
    seed,
    timed,
    warm_up,
)
from tests.stress.private_server import PrivateServer, silent_server

pytestmark = [pytest.mark.postgres, pytest.mark.stress]

DEFAULT_BOUND = 5  # without `?connect_timeout`
COMMAND_TIMEOUT = 2  # seconds, the frozen-server test's `?command_timeout`


def assert_unavailable_within(outcomes: dict[str, Outcome], bound: float) -> None:
    print(f"during the outage (bound {bound} s + {MARGIN} s):")
    for name, outcome in outcomes.items():
        print(f"  {name}: {outcome}")
    wrong = [
        f"{name}: {outcome}"
        for name, outcome in outcomes.items()
        if not (is_unavailable(outcome) and outcome.seconds <= bound + MARGIN)
    ]
    assert not wrong, f"not unavailable within {bound} s + {MARGIN} s:\n" + "\n".join(wrong)


def test_every_call_during_an_outage_is_unavailable_within_the_connect_timeout(
    server: PrivateServer,
) -> None:
    with opened(server.url()) as store:
        seeded = seed(store)
        warm_up(store, seeded)
        server.stop()
        assert_unavailable_within(all_at_once(every_call(store, seeded)), BOUND)
        closing = timed(store.close)
    print(f"  close: {closing}")
    assert closing.error is None and closing.seconds <= BOUND + MARGIN, closing


def test_without_the_option_calls_and_opening_give_up_within_five_seconds(
    server: PrivateServer,
) -> None:
    """The worst case for opening: a server that takes the connection and never answers
    (a refused connection fails at once)."""
    url = server.url(connect_timeout=None)
    with opened(url) as store:
        seeded = seed(store)
        warm_up(store, seeded)
        with silent_server(server):
            calls = every_call(store, seeded)
            calls["open_store"] = lambda: opened(url).close()
            assert_unavailable_within(all_at_once(calls), DEFAULT_BOUND)


def test_opening_a_store_while_the_server_is_down_is_unavailable_at_once(
    server: PrivateServer,
) -> None:
    server.stop()
    outcome = timed(lambda: opened(server.url()).close())
    assert_unavailable_within({"open_store": outcome}, BOUND)
    assert outcome.seconds < 1, "a refused connection needs no waiting for a timeout"


@pytest.mark.parametrize("accept", [True, False], ids=["accepts-silently", "never-accepts"])
def test_a_server_that_never_answers_makes_opening_and_calls_unavailable_within_the_bound(
    server: PrivateServer, accept: bool
) -> None:
    url = server.url()
    with opened(url) as store:
        seeded = seed(store)
        warm_up(store, seeded)
        with silent_server(server, accept=accept):
            calls = every_call(store, seeded)
            calls["open_store"] = lambda: opened(url).close()
            assert_unavailable_within(all_at_once(calls), BOUND)
            closing = timed(store.close)
    print(f"  close: {closing}")
    assert closing.error is None and closing.seconds <= BOUND + MARGIN, closing


def test_a_frozen_server_makes_calls_time_out_within_command_timeout(
    server: PrivateServer,
) -> None:
    """A server that stops answering on connections already open (frozen, SIGSTOP; a
    hung host whose kernel still acknowledges): the watchdog shuts each connection past
    `command_timeout` (+ its grace), and the call is `timeout`. Opening a store, which
    needs a new connection, is `unavailable` within the connect timeout."""
    url = f"{server.url()}&command_timeout={COMMAND_TIMEOUT}"
    with opened(url) as store:
        seeded = seed(store)
        warm_up(store, seeded)
        server.freeze()
        try:
            calls = {
                "get_session": every_call(store, seeded)["get_session"],
                "update_session": every_call(store, seeded)["update_session"],
                "find_wait_by_scope": every_call(store, seeded)["find_wait_by_scope"],
            }
            outcomes = all_at_once(calls, patience=COMMAND_TIMEOUT + ABORT_GRACE + MARGIN + 2)
            opening = timed(lambda: opened(url).close())
        finally:
            server.thaw()
        after = timed(lambda: store.get_session(seeded.key))
    bound = COMMAND_TIMEOUT + ABORT_GRACE
    print(f"during the freeze (bound {bound} s + {MARGIN} s):")
    for name, outcome in outcomes.items():
        print(f"  {name}: {outcome}")
    wrong = [
        f"{name}: {outcome}"
        for name, outcome in outcomes.items()
        if not (
            isinstance(outcome.error, SessionError)
            and outcome.error.code is ErrorCode.TIMEOUT
            and outcome.seconds <= bound + MARGIN
        )
    ]
    assert not wrong, "not timeout within the bound:\n" + "\n".join(wrong)
    assert_unavailable_within({"open_store": opening}, BOUND)
    assert after.error is None, f"the store works again once the server is back: {after}"
