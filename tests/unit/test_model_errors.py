"""What building a model raises, as the README promises: pydantic's `ValidationError` for
a missing field, a wrong type or a number out of range; `SessionError(invalid_input)` for
an identifier that breaks its rules or text no backend can store."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from greentic_session import (
    ErrorCode,
    FlowId,
    SessionCursor,
    SessionData,
    SessionError,
    TenantCtx,
    UserId,
)
from tests.support import make_ctx

VALID: dict[str, Any] = {
    "tenant_ctx": make_ctx(user="alice"),
    "flow_id": "refund",
    "cursor": SessionCursor(node_pointer="ask"),
    "context_json": "{}",
}


def test_a_model_built_from_plain_str_identifiers_holds_the_identifier_types() -> None:
    data = SessionData(**VALID)
    assert type(data.flow_id) is FlowId
    assert type(data.tenant_ctx.user_id) is UserId


@pytest.mark.parametrize(
    "change",
    [{"context_json": None}, {"cursor": "ask"}, {"flow_id": 7}, {"pack_id": True}],
    ids=["none", "str-for-model", "int-for-id", "bool-for-id"],
)
def test_a_value_of_the_wrong_type_raises_pydantic_validation_error(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SessionData(**{**VALID, **change})


def test_a_missing_field_raises_pydantic_validation_error() -> None:
    fields = {name: value for name, value in VALID.items() if name != "cursor"}
    with pytest.raises(ValidationError):
        SessionData(**fields)


@pytest.mark.parametrize("attempt", [-1, 2**32], ids=["negative", "over-u32"])
def test_a_number_out_of_range_raises_pydantic_validation_error(attempt: int) -> None:
    with pytest.raises(ValidationError):
        TenantCtx(env="dev", tenant="t", tenant_id="t", attempt=attempt)


@pytest.mark.parametrize(
    "change",
    [{"flow_id": "bad id"}, {"flow_id": ""}, {"pack_id": "a/b"}, {"context_json": "\ud800"}],
    ids=["space", "empty", "slash", "lone-surrogate"],
)
def test_an_identifier_breaking_its_rules_or_unstorable_text_raises_invalid_input(
    change: dict[str, Any],
) -> None:
    with pytest.raises(SessionError) as error:
        SessionData(**{**VALID, **change})
    assert error.value.code is ErrorCode.INVALID_INPUT
