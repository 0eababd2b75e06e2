"""Names and helpers shared by the contract tests of SEMANTICS.md."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest

from greentic_session import ErrorCode, ReplyScope, SessionData, SessionStore, TenantCtx
from tests.support import make_ctx, make_data, make_scope, raises_code

USER = "alice"
CTX = make_ctx(user=USER)
SCOPE_A = make_scope("telegram:chat-a")
SCOPE_B = make_scope("telegram:chat-b")
SCOPE_C = make_scope("telegram:chat-a", thread="topic-1")
TTL = timedelta(minutes=10)


def data_for(
    ctx: TenantCtx = CTX, node: str = "node.wait", context_json: str = "{}"
) -> SessionData:
    return make_data(ctx, node=node, context_json=context_json)


def wait(
    store: SessionStore,
    key: str,
    scope: ReplyScope = SCOPE_A,
    *,
    ctx: TenantCtx = CTX,
    user: str = USER,
    data: SessionData | None = None,
    ttl: timedelta | None = None,
) -> None:
    """Registers a wait of `user` on `scope` under `key` with data of the caller's context."""
    store.register_wait(ctx, user, scope, key, data or data_for(ctx, node=f"node.{key}"), ttl)


def find_by_user(store: SessionStore, ctx: TenantCtx, user: str) -> Any:
    with pytest.warns(DeprecationWarning):
        return store.find_by_user(ctx, user)


def raises_invalid(message: str | None = None) -> AbstractContextManager[None]:
    return raises_code(ErrorCode.INVALID_INPUT, message)


def raises_not_found(key: str) -> AbstractContextManager[None]:
    return raises_code(ErrorCode.NOT_FOUND, f"session {key} was not found")
