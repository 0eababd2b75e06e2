"""A scripted chat that shows the store at work: park, route, resume, supersede, expire, finish.

It runs against a real store (the embedded SQLite file by default). Its clock is the real
clock plus an offset the script advances, so "45 minutes later" needs no waiting. It is
written as an application would be: it imports the public facade, `greentic_session`, only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from greentic_session import (
    EventSourcedSessionStore,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionError,
    SessionKey,
    TenantCtx,
    open_store,
)

Say = Callable[[str], None]


class DemoClock:
    """Real time plus a jump the script controls."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


@dataclass(frozen=True)
class Person:
    name: str
    ctx: TenantCtx

    def park(self, flow: str, node: str, context: dict[str, object], reason: str) -> SessionData:
        return SessionData(
            tenant_ctx=self.ctx,
            flow_id=flow,
            cursor=SessionCursor(node_pointer=node, wait_reason=reason),
            context_json=json.dumps(context),
        )


def run_demo(url: str | None, say: Say) -> None:
    clock = DemoClock()
    run = uuid4().hex[:6]
    with open_store(url, clock=clock) as store:
        _play(store, clock, run, say)


def _play(store: EventSourcedSessionStore, clock: DemoClock, run: str, say: Say) -> None:
    base = TenantCtx.new("demo", "acme").with_team("support")
    alice = Person("alice", base.with_user(f"alice-{run}"))
    bob = Person("bob", base.with_user(f"bob-{run}"))
    support = ReplyScope(conversation=f"support-{run}", thread="refund")
    sales = ReplyScope(conversation=f"sales-{run}")

    def user(p: Person) -> str:
        return str(p.ctx.user_id)

    def route(p: Person, scope: ReplyScope, text: str) -> SessionKey | None:
        key = store.find_wait_by_scope(p.ctx, user(p), scope)
        target = f"session {key[:8]}" if key else "no waiting flow (default handler)"
        say(f"    {p.name} says {text!r} in {scope.conversation}: routed to {target}")
        return key

    say(f"run {run}: two users, two conversations, team 'support' of tenant 'acme'")

    say("1. alice starts the 'refund' flow; it asks for an order number and parks")
    refund = store.create_session(alice.ctx, alice.park("refund", "start", {}, "new"))
    data = alice.park("refund", "ask_order_number", {"step": 1}, "order number")
    store.register_wait(alice.ctx, user(alice), support, refund, data, timedelta(hours=1))
    say(f"    session {refund[:8]} waits on {support.conversation}/{support.thread} (ttl 1h)")

    say("2. bob starts the 'quote' flow; it asks for a budget and parks (ttl 30 min)")
    quote = store.create_session(bob.ctx, bob.park("quote", "start", {}, "new"))
    data = bob.park("quote", "ask_budget", {"step": 1}, "budget")
    store.register_wait(bob.ctx, user(bob), sales, quote, data, timedelta(minutes=30))
    say(f"    session {quote[:8]} waits on {sales.conversation}")

    say("3. alice replies; the reply is routed by scope and resumes her refund flow")
    key = route(alice, support, "order 1234")
    current = store.get_session(refund)
    if key != refund or current is None:
        raise RuntimeError("demo failed: the reply did not resume the refund flow")
    context = {**json.loads(current.context_json), "order": "1234", "step": 2}
    data = alice.park("refund", "confirm_refund", context, "confirmation")
    store.register_wait(alice.ctx, user(alice), support, refund, data, timedelta(hours=1))
    say(f"    resumed at {current.cursor.node_pointer!r}, parked again at 'confirm_refund'")

    say("4. a 'survey' flow parks on the same scope: it supersedes the refund wait")
    survey = SessionKey(f"survey-{run}")
    data = alice.park("survey", "ask_rating", {"step": 1}, "rating")
    store.register_wait(alice.ctx, user(alice), support, survey, data, timedelta(hours=1))
    waits = [k[:8] for k in store.list_waits_for_user(alice.ctx, user(alice))]
    say(
        f"    alice's waits: {waits}; refund session still readable: "
        f"{store.get_session(refund) is not None}"
    )

    say("5. bob writes in a conversation nothing waits on")
    route(bob, ReplyScope(conversation=f"other-{run}"), "hello?")

    say("6. 45 minutes pass: bob's 30-minute wait expires")
    clock.advance(timedelta(minutes=45))
    route(bob, sales, "my budget is 500")
    say(f"    bob's session after expiry: {store.get_session(quote)}")
    try:
        store.update_session(quote, bob.park("quote", "late", {}, "late"))
    except SessionError as exc:
        say(f"    a late update is refused ({exc.code}); that write recorded the expiry")

    say("7. alice answers the survey; the flow finishes and clears its wait")
    _expect(route(alice, support, "5 stars") == survey, "the reply did not reach the survey")
    store.clear_wait(alice.ctx, user(alice), support)
    say(f"    survey session after clear_wait: {store.get_session(survey)}")

    say("8. the superseded refund flow is closed by the runtime")
    store.remove_session(refund)
    say(f"    refund session after remove_session: {store.get_session(refund)}")
    for p in (alice, bob):
        say(f"    {p.name}'s waits now: {store.list_waits_for_user(p.ctx, user(p))}")
    events = sorted(
        (event for key in (refund, quote, survey) for event in store.history(key)),
        key=lambda event: event.position,
    )
    kinds = Counter(event.type.value for event in events)
    say(
        f"the log holds {sum(kinds.values())} events for these sessions: "
        + ", ".join(f"{kind} x{count}" for kind, count in kinds.items())
    )
    say("every step above appended events; the lookup indices changed in the same transactions")


def _expect(condition: bool, failure: str) -> None:
    """The demo doubles as a smoke test: a wrong routing is a bug, said plainly."""
    if not condition:
        raise RuntimeError(f"demo failed: {failure}")
