"""For the web app's tests: the `ui` extra or a clear skip (a failure under CI), the app
served by uvicorn on a free port in a thread, and a store that tells a story."""

from __future__ import annotations

import importlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from greentic_session import (
    AuditedSessionStore,
    EventSourcedSessionStore,
    ReplyScope,
    SessionData,
    SessionKey,
    TenantCtx,
)
from tests.support import FakeClock, make_ctx, make_data


def need(*modules: str) -> None:
    """Skips the calling module without `modules` (with the reason); fails it under CI."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            reason = f"{module} is not installed: pip install -e '.[test,ui,browser]'"
            if os.environ.get("CI"):
                pytest.fail(reason, pytrace=False)
            pytest.skip(reason, allow_module_level=True)


@contextmanager
def served(store: EventSourcedSessionStore, token: str | None = None) -> Iterator[str]:
    """The app over `store`, served by uvicorn on a free loopback port; yields its address."""
    import uvicorn

    from greentic_session.adapters.web.app import web_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(web_app(store, token=token), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


START = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
"""In the past: the app reads with the real clock, and explains replies at past instants."""
CHAT = ReplyScope(conversation="chat-42", thread="orders")
ALICE = make_ctx(team="support", user="alice")


@dataclass(frozen=True)
class Story:
    """`refund`: created, updated, waits on CHAT, is superseded by `survey`, updated, and
    expires with its deadline (life 1); is reborn waiting again and cleared (life 2); is
    reborn waiting and removed (life 3): 12 events, every kind. `survey` takes CHAT over
    and expires. `waiting_at`: an instant refund held CHAT; `taken_at`: one survey did."""

    refund: SessionKey
    survey: SessionKey
    waiting_at: datetime
    taken_at: datetime
    refund_events: int = 12


def traced(trace: str) -> TenantCtx:
    return ALICE.model_copy(update={"trace_id": trace})


def step_data(node: str, step: int, flow: str = "refund") -> SessionData:
    context = f'{{"step": {step}, "order": "A-17", "amount": {step * 10}}}'
    return make_data(ALICE, node=node, context_json=context, flow=flow)


def tell_story(store: AuditedSessionStore, clock: FakeClock) -> Story:
    """Writes the story (see `Story`) with the store's clock at `clock`, from START."""
    clock.now = START
    refund = store.create_session(traced("t-1001"), step_data("ask_order", 1))
    clock.advance(timedelta(seconds=40))
    store.update_session(refund, step_data("check_order", 2))
    clock.advance(timedelta(seconds=5))
    store.register_wait(traced("t-1002"), "alice", CHAT, refund, step_data("await_reply", 2),
                        ttl=timedelta(hours=1))
    waiting_at = clock.now + timedelta(minutes=1)
    clock.advance(timedelta(minutes=12))
    survey = SessionKey(f"survey-{refund[:8]}")
    store.register_wait(traced("t-2001"), "alice", CHAT, survey,
                        step_data("ask_rating", 1, flow="survey"), ttl=timedelta(minutes=30))
    taken_at = clock.now + timedelta(minutes=1)
    clock.advance(timedelta(minutes=3))
    store.update_session(refund, step_data("refund_sent", 3))
    clock.advance(timedelta(minutes=45))
    store.sweep_expired(ctx=traced("t-3001"))
    store.register_wait(traced("t-1003"), "alice", CHAT, refund, step_data("await_thanks", 3),
                        ttl=timedelta(hours=1))
    clock.advance(timedelta(minutes=2))
    store.clear_wait(traced("t-1004"), "alice", CHAT)
    clock.advance(timedelta(hours=2))
    store.register_wait(traced("t-1005"), "alice", CHAT, refund, step_data("reopened", 4),
                        ttl=timedelta(hours=1))
    clock.advance(timedelta(minutes=10))
    store.remove_session(refund, ctx=traced("t-1006"))
    return Story(refund, survey, waiting_at, taken_at)


CROWD = [
    # (user, team, flow, conversation, how it ends)
    ("bob", "sales", "quote", "chat-7", "waiting"),
    ("carol", "support", "refund", "chat-9", "live"),
    ("dave", None, "onboarding", "mail-3", "removed"),
    ("erin", "sales", "quote", "chat-11", "waiting"),
    ("frank", "support", "survey", "chat-12", "cleared"),
]


def populate(store: AuditedSessionStore, clock: FakeClock) -> list[SessionKey]:
    """Other sessions of tenant-a, one per `CROWD` line, so a search has rows to show."""
    keys = []
    for user, team, flow, conversation, end in CROWD:
        clock.advance(timedelta(minutes=7))
        ctx = make_ctx(team=team, user=user).model_copy(update={"trace_id": f"t-{user}"})
        data = make_data(ctx, node="start", context_json='{"step": 1}', flow=flow)
        key = store.create_session(ctx, data)
        scope = ReplyScope(conversation=conversation)
        if end != "live":
            store.register_wait(ctx, user, scope, key, data, ttl=timedelta(days=3650))
        if end == "removed":
            store.remove_session(key, ctx=ctx)
        elif end == "cleared":
            store.clear_wait(ctx, user, scope)
        keys.append(key)
    return keys
