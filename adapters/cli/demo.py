"""A scripted chat that shows the store at work: park, route, resume, supersede, expire, finish.

It runs against a store of its own: a new SQLite file it names, or the URL given, which
must hold no sessions yet (never `GREENTIC_SESSION_URL`: the user's own store). Its clock
is the real clock minus an offset the script shrinks, so "45 minutes later" needs no
waiting and no event is ever recorded later than the real time. The script itself
(`_play`) is written as an application would be, on the public facade's API only; it
prints keys as the tool shortens them, which every command takes back.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from greentic_session import (
    ErrorCode,
    EventSourcedSessionStore,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionError,
    SessionKey,
    TenantCtx,
    open_store,
)
from greentic_session.adapters.bootstrap.urls import redacted
from greentic_session.adapters.service.short_keys import short

Say = Callable[[str], None]

DEMO_FILE = "greentic-session-demo-<run>.db"
DEMO_URL_HELP = f"a store holding no sessions (default: a new file, {DEMO_FILE})"
SCRIPT_SPAN = timedelta(minutes=45)
"""How far the script moves its clock on."""
SLACK = timedelta(minutes=1)
"""What the script's clock stays behind the real one at its end, at least."""


class DemoClock:
    """The real time, set back by an offset the script takes in: the script's jumps
    bring it closer to the real time, never past it."""

    def __init__(self, behind: timedelta) -> None:
        self.offset = -behind

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        if self.offset + by > timedelta():
            raise RuntimeError("demo failed: its clock would run ahead of the real time")
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


def run_demo(url: str | None, say: Say) -> str:
    """Play the script in a store of its own; returns its URL (without a password).

    Raises `SessionError(conflict)` when the store at `url` already holds sessions."""
    clock = DemoClock(SCRIPT_SPAN + SLACK)
    run = uuid4().hex[:6]
    url = url if url is not None else _new_file(run)
    with open_store(url, clock=clock) as store:
        if store.keys_with_prefix("", limit=1):
            raise SessionError(
                ErrorCode.CONFLICT,
                f"{redacted(url)} already holds sessions: the demo writes only to a store of "
                "its own; leave out --url (it then makes a new file) or give a new one",
            )
        say(f"store: {redacted(url)}")
        refund = _play(store, clock, run, say)
    if not url.startswith("memory:"):
        say(f"look around: greentic-session history {short(refund)} --url {redacted(url)}")
    return redacted(url)


def _new_file(run: str) -> str:
    """A SQLite file in the current folder that does not exist yet."""
    name = DEMO_FILE.replace("<run>", run)
    while os.path.lexists(name):
        name = DEMO_FILE.replace("<run>", uuid4().hex[:6])
    return f"sqlite:///{name}"


def _play(store: EventSourcedSessionStore, clock: DemoClock, run: str, say: Say) -> SessionKey:
    """The script; returns the key of the refund session, whose history shows the most."""
    base = TenantCtx.new("demo", "acme").with_team("support")
    alice = Person("alice", base.with_user(f"alice-{run}"))
    bob = Person("bob", base.with_user(f"bob-{run}"))
    support = ReplyScope(conversation=f"support-{run}", thread="refund")
    sales = ReplyScope(conversation=f"sales-{run}")

    def user(p: Person) -> str:
        return str(p.ctx.user_id)

    def route(p: Person, scope: ReplyScope, text: str) -> SessionKey | None:
        key = store.find_wait_by_scope(p.ctx, user(p), scope)
        target = f"session {short(key)}" if key else "no waiting flow (default handler)"
        say(f"    {p.name} says {text!r} in {scope.conversation}: routed to {target}")
        return key

    say(f"run {run}: two users, two conversations, team 'support' of tenant 'acme'")

    say("1. alice starts the 'refund' flow; it asks for an order number and parks")
    refund = store.create_session(alice.ctx, alice.park("refund", "start", {}, "new"))
    data = alice.park("refund", "ask_order_number", {"step": 1}, "order number")
    store.register_wait(alice.ctx, user(alice), support, refund, data, timedelta(hours=1))
    say(f"    session {short(refund)} waits on {support.conversation}/{support.thread} (ttl 1h)")

    say("2. bob starts the 'quote' flow; it asks for a budget and parks (ttl 30 min)")
    quote = store.create_session(bob.ctx, bob.park("quote", "start", {}, "new"))
    data = bob.park("quote", "ask_budget", {"step": 1}, "budget")
    store.register_wait(bob.ctx, user(bob), sales, quote, data, timedelta(minutes=30))
    say(f"    session {short(quote)} waits on {sales.conversation}")

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
    waits = [short(k) for k in store.list_waits_for_user(alice.ctx, user(alice))]
    say(
        f"    alice's waits: {waits}; refund session still readable: "
        f"{store.get_session(refund) is not None}"
    )

    say("5. bob writes in a conversation nothing waits on")
    route(bob, ReplyScope(conversation=f"other-{run}"), "hello?")

    say("6. 45 minutes pass: bob's 30-minute wait expires")
    clock.advance(SCRIPT_SPAN)
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
    return refund


def _expect(condition: bool, failure: str) -> None:
    """The demo doubles as a smoke test: a wrong routing is a bug, said plainly."""
    if not condition:
        raise RuntimeError(f"demo failed: {failure}")
