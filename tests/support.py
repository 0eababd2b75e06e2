"""Builders and test doubles shared by the test modules (no fixtures here; see conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from domain import ReplyScope, SessionCursor, SessionData, TenantCtx

# Fixed, so runs are reproducible; far from the real clock, so a store that mixes the real
# clock into expiry decisions fails the TTL tests.
CLOCK_START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand; pass it as `open_store(url, clock=...)`."""

    def __init__(self, start: datetime = CLOCK_START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def make_ctx(
    env: str = "dev",
    tenant: str = "tenant-a",
    team: str | None = None,
    user: str | None = None,
) -> TenantCtx:
    """A caller context built the way runtimes do: `new`, then `with_team`/`with_user`."""
    ctx = TenantCtx.new(env, tenant)
    if team is not None:
        ctx = ctx.with_team(team)
    if user is not None:
        ctx = ctx.with_user(user)
    return ctx


def make_data(
    ctx: TenantCtx,
    node: str = "node.wait",
    context_json: str = "{}",
    flow: str = "flow-alpha",
) -> SessionData:
    return SessionData(
        tenant_ctx=ctx,
        flow_id=flow,
        cursor=SessionCursor(node_pointer=node),
        context_json=context_json,
    )


def make_scope(conversation: str, thread: str | None = None) -> ReplyScope:
    return ReplyScope(conversation=conversation, thread=thread)


def run_together(calls: Sequence[Callable[[], object]]) -> list[BaseException]:
    """Starts every call at once, one thread each, and returns what they raised."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
