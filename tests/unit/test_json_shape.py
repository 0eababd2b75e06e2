"""The JSON shape of the public types, as the Rust crate writes and reads it."""

from __future__ import annotations

import json
from typing import Any

from greentic_session import Impersonation, ReplyScope, SessionCursor, SessionData, TenantCtx
from tests.support import make_ctx, make_data

RUST_SESSION_DATA: dict[str, Any] = {
    "tenant_ctx": {
        "env": "prod",
        "tenant": "acme",
        "tenant_id": "acme-id",
        "team": "support",
        "team_id": "support-id",
        "user": "user-1",
        "user_id": "user-1-id",
        "session_id": "sess-1",
        "flow_id": "flow.main",
        "node_id": "node.7",
        "provider_id": "telegram",
        "trace_id": "trace-abc",
        "i18n_id": "en-GB",
        "correlation_id": "corr-9",
        "attributes": {"region": "eu", "tier": "gold"},
        "deadline": {"unix_millis": 1735689600000},
        "attempt": 2,
        "idempotency_key": "idem-1",
        "impersonation": {"actor_id": "admin-1", "reason": "support ticket"},
    },
    "flow_id": "flow.main",
    "pack_id": "pack.core",
    "cursor": {"node_pointer": "node.7", "wait_reason": "awaiting reply", "outbox_marker": "out-3"},
    "context_json": '{"step":3,"text":"h\\u00e9"}',
}


# -- JSON ----------------------------------------------------------------------------------


def test_minimal_tenant_ctx_json_omits_unset_optionals_and_empty_attributes() -> None:
    dumped = json.loads(TenantCtx.new("dev", "acme").model_dump_json())
    assert dumped == {"env": "dev", "tenant": "acme", "tenant_id": "acme", "attempt": 0}


def test_tenant_ctx_json_never_contains_null() -> None:
    assert "null" not in make_ctx(team="t", user="u").model_dump_json()


def test_tenant_ctx_json_includes_attributes_when_not_empty() -> None:
    ctx = TenantCtx.new("dev", "acme").model_copy(update={"attributes": {"k": "v"}})
    dumped = json.loads(ctx.model_dump_json())
    assert dumped["attributes"] == {"k": "v"}


def test_attempt_is_always_present_in_json() -> None:
    assert json.loads(TenantCtx.new("dev", "acme").model_dump_json())["attempt"] == 0


def test_minimal_cursor_scope_and_impersonation_json_omit_unset_optionals() -> None:
    assert json.loads(SessionCursor(node_pointer="n").model_dump_json()) == {"node_pointer": "n"}
    assert json.loads(ReplyScope(conversation="c").model_dump_json()) == {"conversation": "c"}
    assert json.loads(Impersonation(actor_id="admin").model_dump_json()) == {"actor_id": "admin"}


def test_minimal_session_data_json_omits_pack_id() -> None:
    dumped = json.loads(make_data(TenantCtx.new("dev", "acme"), node="n").model_dump_json())
    assert dumped == {
        "tenant_ctx": {"env": "dev", "tenant": "acme", "tenant_id": "acme", "attempt": 0},
        "flow_id": "flow-alpha",
        "cursor": {"node_pointer": "n"},
        "context_json": "{}",
    }


def test_rust_session_data_json_with_every_field_parses() -> None:
    data = SessionData.model_validate_json(json.dumps(RUST_SESSION_DATA))
    ctx = data.tenant_ctx
    assert (ctx.env, ctx.tenant, ctx.tenant_id) == ("prod", "acme", "acme-id")
    assert (ctx.team, ctx.team_id, ctx.user, ctx.user_id) == (
        "support",
        "support-id",
        "user-1",
        "user-1-id",
    )
    assert (ctx.session_id, ctx.flow_id, ctx.node_id) == ("sess-1", "flow.main", "node.7")
    assert (ctx.provider_id, ctx.trace_id, ctx.i18n_id) == ("telegram", "trace-abc", "en-GB")
    assert (ctx.correlation_id, ctx.idempotency_key) == ("corr-9", "idem-1")
    assert ctx.attributes == {"region": "eu", "tier": "gold"}
    assert ctx.deadline is not None
    assert ctx.deadline.unix_millis == 1735689600000
    assert ctx.attempt == 2
    assert ctx.impersonation is not None
    assert (ctx.impersonation.actor_id, ctx.impersonation.reason) == ("admin-1", "support ticket")
    assert (data.flow_id, data.pack_id) == ("flow.main", "pack.core")
    assert (data.cursor.node_pointer, data.cursor.wait_reason, data.cursor.outbox_marker) == (
        "node.7",
        "awaiting reply",
        "out-3",
    )
    assert data.context_json == '{"step":3,"text":"h\\u00e9"}'


def test_rust_session_data_json_round_trips_to_the_same_document() -> None:
    data = SessionData.model_validate_json(json.dumps(RUST_SESSION_DATA))
    assert json.loads(data.model_dump_json()) == RUST_SESSION_DATA


def test_rust_json_without_optionals_parses_with_defaults() -> None:
    ctx = TenantCtx.model_validate_json('{"env":"dev","tenant":"t","tenant_id":"t"}')
    assert ctx.attributes == {}
    assert ctx.attempt == 0
    assert ctx.team_id is None


# -- context rules -------------------------------------------------------------------------


def test_unknown_fields_from_a_newer_rust_crate_are_ignored() -> None:
    raw = '{"env": "dev", "tenant": "t", "tenant_id": "t", "attempt": 0, "added_later": 1}'
    assert TenantCtx.model_validate_json(raw) == TenantCtx.new("dev", "t")
