"""The inputs every store in the benchmark gets: the same contexts, data, scopes and keys.

A session carries a realistic tenant context and a ~1 KB `context_json`; our store, the
floor stores and the baselines (LangGraph, plain eventsourcing) are handed the same values.
Timed workloads draw them from a cache (`ctx_of`, `data_of`: 64 contexts per user), so
building inputs does not slow the measuring loop; `tenant_ctx` and `session_data` build
fresh objects, for the RSS study, where shared inputs would hide memory.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any
from uuid import uuid4

from greentic_session import (
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionKey,
    SessionStore,
    TenantCtx,
)

CONTEXT_JSON_BYTES = 1024
WAIT_TTL = timedelta(hours=1)
USERS = 100  # writes spread over this many users
VARIANTS = 64  # distinct context snapshots per user in the input cache

_serial = itertools.count()


def serial() -> int:
    """A process-wide counter for unique scopes and users."""
    return next(_serial)


def tenant_ctx(user: str) -> TenantCtx:
    base = TenantCtx.new("prod", "acme-corp").with_team("support").with_user(user)
    return base.model_copy(
        update={
            "provider_id": "telegram",
            "flow_id": "order-status",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "attributes": {"locale": "en-GB", "channel": "telegram", "plan": "business"},
        }
    )


def context_json(step: int) -> str:
    """A flow's context snapshot, padded to about 1 KB."""
    context: dict[str, Any] = {
        "step": step,
        "customer": {"name": "Ada Example", "email": "ada@example.com", "tier": "gold"},
        "order": {
            "id": f"ORD-{step:08d}",
            "items": [{"sku": f"SKU-{i:04d}", "qty": i + 1, "price": 9.99} for i in range(5)],
            "currency": "EUR",
        },
        "answers": {"reason": "where is my parcel?", "preferred_contact": "chat"},
        "notes": "",
    }
    filler = CONTEXT_JSON_BYTES - len(json.dumps(context))
    context["notes"] = "n" * max(filler, 0)
    return json.dumps(context)


def session_data(ctx: TenantCtx, step: int) -> SessionData:
    return SessionData(
        tenant_ctx=ctx,
        flow_id="order-status",
        pack_id="support-pack",
        cursor=SessionCursor(node_pointer=f"node-{step % 12}", wait_reason="awaiting_reply"),
        context_json=context_json(step),
    )


@cache
def ctx_of(user: str) -> TenantCtx:
    return tenant_ctx(user)


@cache
def _data_of(user: str, variant: int) -> SessionData:
    return session_data(ctx_of(user), variant)


def data_of(user: str, step: int) -> SessionData:
    """The user's session data, one of `VARIANTS` snapshots, built once."""
    return _data_of(user, step % VARIANTS)


def unique_scope(conversation: str | None = None) -> ReplyScope:
    n = serial()
    return ReplyScope(
        conversation=conversation or f"chat-{n}", thread=f"topic-{n % 7}", reply_to=f"msg-{n}"
    )


def spread_user(n: int) -> str:
    return f"user-{n % USERS:03d}"


@dataclass(frozen=True)
class Wait:
    """A registered wait and how to find it again."""

    ctx: TenantCtx
    user: str
    scope: ReplyScope
    key: SessionKey


def new_wait(user: str) -> Wait:
    """A wait not registered yet: a new key under a new scope."""
    return Wait(ctx_of(user), user, unique_scope(), SessionKey(str(uuid4())))


def add_wait(store: SessionStore, user: str) -> Wait:
    """Registers a wait under a new key (register_wait creates the session)."""
    wait = new_wait(user)
    store.register_wait(wait.ctx, user, wait.scope, wait.key, data_of(user, 0), ttl=WAIT_TTL)
    return wait


def add_session(store: SessionStore, user: str) -> SessionKey:
    return store.create_session(ctx_of(user), data_of(user, 0))
