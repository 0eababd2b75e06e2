"""The JSON shape of the public types, as the Rust crate writes and reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from greentic_session import (
    Impersonation,
    InvocationDeadline,
    ReplyScope,
    SessionCursor,
    SessionData,
    TenantCtx,
)
from tests.strategies import any_session_data, contexts
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


# -- serde's byte form: attributes in key order --------------------------------------------

ATTRIBUTE_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
"""Any storable text (every character but the lone surrogates, generated without filtering)."""
ATTRIBUTES = st.dictionaries(ATTRIBUTE_TEXT, ATTRIBUTE_TEXT, max_size=12)


@settings(max_examples=100, deadline=None)
@given(ctx=contexts(huge=False), attributes=ATTRIBUTES)
def test_dumped_tenant_ctx_writes_attribute_keys_in_sorted_order(
    ctx: TenantCtx, attributes: dict[str, str]
) -> None:
    shuffled = dict(reversed(list(attributes.items())))
    dumped = ctx.model_copy(update={"attributes": shuffled}).model_dump_json()
    keys = list(json.loads(dumped).get("attributes", {}))
    assert keys == sorted(attributes, key=lambda key: key.encode("utf-8"))  # Rust's String order


@settings(max_examples=50, deadline=None)
@given(data=any_session_data(huge=False), attributes=ATTRIBUTES)
def test_dumped_session_data_is_the_same_bytes_whatever_the_attribute_insertion_order(
    data: SessionData, attributes: dict[str, str]
) -> None:
    forwards = data.tenant_ctx.model_copy(update={"attributes": attributes})
    reversed_attributes = dict(reversed(attributes.items()))
    backwards = data.tenant_ctx.model_copy(update={"attributes": reversed_attributes})
    assert (
        data.model_copy(update={"tenant_ctx": forwards}).model_dump_json()
        == data.model_copy(update={"tenant_ctx": backwards}).model_dump_json()
    )


@settings(max_examples=50, deadline=None)
@given(data=any_session_data(huge=False))
def test_parsing_and_dumping_session_data_gives_back_the_same_bytes(data: SessionData) -> None:
    text = data.model_dump_json()
    assert SessionData.model_validate_json(text).model_dump_json() == text


def test_attributes_written_out_of_order_by_hand_are_dumped_in_key_order() -> None:
    raw = '{"env":"dev","tenant":"t","tenant_id":"t","attributes":{"z":"1","a":"2","m":"3"}}'
    dumped = TenantCtx.model_validate_json(raw).model_dump_json()
    assert dumped == (
        '{"env":"dev","tenant":"t","tenant_id":"t",'
        '"attributes":{"a":"2","m":"3","z":"1"},"attempt":0}'
    )


def test_attribute_keys_sort_by_utf8_bytes_as_a_rust_btreemap_of_strings() -> None:
    """Upper case before lower case, and a non-ASCII key after every ASCII one."""
    ctx = make_ctx().model_copy(update={"attributes": {"é": "1", "b": "2", "B": "3", "~": "4"}})
    assert list(json.loads(ctx.model_dump_json())["attributes"]) == ["B", "b", "~", "é"]


# -- parsing as strict as serde's ------------------------------------------------------------

CTX_JSON: dict[str, Any] = {"env": "dev", "tenant": "t", "tenant_id": "t"}
DATA_JSON: dict[str, Any] = {
    "tenant_ctx": CTX_JSON,
    "flow_id": "flow",
    "cursor": {"node_pointer": "n"},
    "context_json": "{}",
}
LAX_VALUES: list[tuple[type[BaseModel], dict[str, Any], str, Any]] = [
    (TenantCtx, CTX_JSON, "attempt", "1"),
    (TenantCtx, CTX_JSON, "attempt", 1.0),
    (TenantCtx, CTX_JSON, "attempt", True),
    (TenantCtx, CTX_JSON, "attempt", None),
    (TenantCtx, CTX_JSON, "attempt", -1),
    (TenantCtx, CTX_JSON, "attempt", 2**32),
    (TenantCtx, CTX_JSON, "env", 1),
    (TenantCtx, CTX_JSON, "tenant", True),
    (TenantCtx, CTX_JSON, "tenant_id", ["t"]),
    (TenantCtx, CTX_JSON, "team", 7),
    (TenantCtx, CTX_JSON, "team_id", {"id": "x"}),
    (TenantCtx, CTX_JSON, "user", 1.5),
    (TenantCtx, CTX_JSON, "user_id", False),
    (TenantCtx, CTX_JSON, "session_id", 1),
    (TenantCtx, CTX_JSON, "flow_id", 1),
    (TenantCtx, CTX_JSON, "node_id", True),
    (TenantCtx, CTX_JSON, "provider_id", 2),
    (TenantCtx, CTX_JSON, "trace_id", 3.0),
    (TenantCtx, CTX_JSON, "i18n_id", []),
    (TenantCtx, CTX_JSON, "correlation_id", {}),
    (TenantCtx, CTX_JSON, "idempotency_key", 5),
    (TenantCtx, CTX_JSON, "attributes", None),
    (TenantCtx, CTX_JSON, "attributes", [["k", "v"]]),
    (TenantCtx, CTX_JSON, "attributes", {"k": 1}),
    (TenantCtx, CTX_JSON, "attributes", {"k": True}),
    (TenantCtx, CTX_JSON, "attributes", {"k": None}),
    (TenantCtx, CTX_JSON, "deadline", 1735689600000),
    (TenantCtx, CTX_JSON, "deadline", {"unix_millis": "1735689600000"}),
    (TenantCtx, CTX_JSON, "deadline", {"unix_millis": 1.0}),
    (TenantCtx, CTX_JSON, "deadline", {"unix_millis": True}),
    (TenantCtx, CTX_JSON, "impersonation", "admin"),
    (TenantCtx, CTX_JSON, "impersonation", {"actor_id": 1}),
    (TenantCtx, CTX_JSON, "impersonation", {"actor_id": "admin", "reason": 1}),
    (InvocationDeadline, {"unix_millis": 0}, "unix_millis", "0"),
    (InvocationDeadline, {"unix_millis": 0}, "unix_millis", 0.0),
    (InvocationDeadline, {"unix_millis": 0}, "unix_millis", False),
    (Impersonation, {"actor_id": "admin"}, "actor_id", True),
    (Impersonation, {"actor_id": "admin"}, "reason", 0),
    (SessionData, DATA_JSON, "tenant_ctx", "dev"),
    (SessionData, DATA_JSON, "tenant_ctx", {**CTX_JSON, "attempt": "1"}),
    (SessionData, DATA_JSON, "flow_id", 1),
    (SessionData, DATA_JSON, "pack_id", True),
    (SessionData, DATA_JSON, "cursor", "n"),
    (SessionData, DATA_JSON, "cursor", {"node_pointer": 1}),
    (SessionData, DATA_JSON, "context_json", {}),
    (SessionData, DATA_JSON, "context_json", 1),
    (SessionCursor, {"node_pointer": "n"}, "node_pointer", None),
    (SessionCursor, {"node_pointer": "n"}, "wait_reason", 1),
    (SessionCursor, {"node_pointer": "n"}, "outbox_marker", False),
    (ReplyScope, {"conversation": "c"}, "conversation", 42),
    (ReplyScope, {"conversation": "c"}, "thread", 1),
    (ReplyScope, {"conversation": "c"}, "reply_to", True),
    (ReplyScope, {"conversation": "c"}, "correlation", 1.0),
]


@pytest.mark.parametrize("model", sorted({row[0] for row in LAX_VALUES}, key=str))
def test_the_strict_tables_base_documents_parse(model: type[BaseModel]) -> None:
    """Each refusal below is then due to the one field it changes."""
    base = next(row[1] for row in LAX_VALUES if row[0] is model)
    model.model_validate_json(json.dumps(base))


@pytest.mark.parametrize(
    ("model", "base", "field", "value"),
    LAX_VALUES,
    ids=[f"{row[0].__name__}.{row[2]}={json.dumps(row[3])}" for row in LAX_VALUES],
)
def test_json_with_a_value_of_the_wrong_json_type_is_refused_as_serde_refuses_it(
    model: type[BaseModel], base: dict[str, Any], field: str, value: Any
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate_json(json.dumps({**base, field: value}))


def test_building_a_context_in_python_does_not_coerce_either() -> None:
    with pytest.raises(ValidationError):
        TenantCtx.model_validate({**CTX_JSON, "attempt": "1"})
