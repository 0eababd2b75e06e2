"""Hostile input to the public models and identifiers: only `SessionError` or pydantic's
`ValidationError` comes out, and what is accepted round-trips through JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from greentic_session import (
    EnvId,
    ErrorCode,
    FlowId,
    Impersonation,
    InvocationDeadline,
    PackId,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionError,
    SessionKey,
    TeamId,
    TenantCtx,
    TenantId,
    UserId,
)
from tests.strategies import WRONG_TYPES, hostile_text
from tests.support import make_ctx, make_data, raises_code

ANY_VALUE = st.one_of(hostile_text(), WRONG_TYPES, WRONG_TYPES)
VALID_FIELDS: dict[type[Any], dict[str, Any]] = {
    TenantCtx: {"env": "dev", "tenant": "t", "tenant_id": "t"},
    SessionData: {
        "tenant_ctx": make_ctx(user="alice"),
        "flow_id": "flow",
        "cursor": {"node_pointer": "n"},
        "context_json": "{}",
    },
    SessionCursor: {"node_pointer": "n"},
    ReplyScope: {"conversation": "chat"},
    Impersonation: {"actor_id": "admin"},
    InvocationDeadline: {"unix_millis": 0},
}
IDENTIFIERS = [EnvId, TenantId, TeamId, UserId, FlowId, PackId, SessionKey]


def models_and_fields() -> st.SearchStrategy[tuple[type[Any], dict[str, Any]]]:
    """A model type and hostile values for some of its fields (the rest valid)."""
    return st.sampled_from(list(VALID_FIELDS)).flatmap(
        lambda kind: st.tuples(
            st.just(kind),
            st.dictionaries(st.sampled_from(list(kind.model_fields)), ANY_VALUE, max_size=3),
        )
    )


def plain(value: Any) -> Any:
    """What `json.dumps` cannot write itself: models as their JSON form, the rest as repr."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else repr(value)


def build_or_refuse(build: Callable[[], Any]) -> Any:
    """The model, or None when it was refused with `SessionError(invalid_input)` or a
    pydantic `ValidationError` (a `ValueError`), as the unit tests of the types expect."""
    try:
        return build()
    except SessionError as error:
        assert error.code is ErrorCode.INVALID_INPUT, error
    except ValidationError:
        pass
    return None


@settings(max_examples=400, deadline=None)
@given(model=models_and_fields(), how=st.sampled_from(["init", "python", "json"]))
def test_models_built_from_hostile_values_raise_only_session_or_validation_errors(
    model: tuple[type[Any], dict[str, Any]], how: str
) -> None:
    kind, hostile = model
    values = {**VALID_FIELDS[kind], **hostile}
    if how == "init":
        build_or_refuse(lambda: kind(**values))
    elif how == "python":
        build_or_refuse(lambda: kind.model_validate(values))
    else:
        document = json.dumps(values, default=plain)  # a lone surrogate becomes a \\ud800 escape
        build_or_refuse(lambda: kind.model_validate_json(document))


@settings(max_examples=300, deadline=None)
@given(value=ANY_VALUE, kind=st.sampled_from(IDENTIFIERS))
def test_identifiers_built_from_hostile_values_raise_only_invalid_input(
    value: Any, kind: type[str]
) -> None:
    try:
        built = kind(value)
    except SessionError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        return
    assert built == value and type(built) is kind


@settings(max_examples=200, deadline=None)
@given(first=ANY_VALUE, second=ANY_VALUE)
def test_context_builders_fed_hostile_values_raise_only_invalid_input(
    first: Any, second: Any
) -> None:
    base = make_ctx()
    builds: list[Callable[[], TenantCtx]] = [
        lambda: TenantCtx.new(first, second),
        lambda: base.with_team(first),
        lambda: base.with_user(second),
    ]
    for build in builds:
        try:
            build()
        except SessionError as error:
            assert error.code is ErrorCode.INVALID_INPUT


@settings(max_examples=300, deadline=None)
@given(model=models_and_fields())
def test_models_accepted_from_hostile_values_round_trip_through_json(
    model: tuple[type[Any], dict[str, Any]],
) -> None:
    kind, hostile = model
    built = build_or_refuse(lambda: kind(**{**VALID_FIELDS[kind], **hostile}))
    if built is not None:
        assert kind.model_validate_json(built.model_dump_json()) == built


@settings(max_examples=300, deadline=None)
@given(model=models_and_fields())
def test_model_copy_with_hostile_updates_is_validated_like_a_new_model(
    model: tuple[type[Any], dict[str, Any]],
) -> None:
    kind, update = model
    base = kind(**VALID_FIELDS[kind])
    copied = build_or_refuse(lambda: base.model_copy(update=update))
    fresh = build_or_refuse(lambda: kind(**{**VALID_FIELDS[kind], **update}))
    assert copied == fresh


def test_model_copy_cannot_smuggle_a_bad_identifier_into_the_store() -> None:
    data = make_data(make_ctx(user="alice"))
    with raises_code(ErrorCode.INVALID_INPUT):
        data.model_copy(update={"flow_id": "flow one"})
    with raises_code(ErrorCode.INVALID_INPUT):
        data.model_copy(update={"context_json": "\ud800"})
    with raises_code(ErrorCode.INVALID_INPUT):
        make_ctx().model_copy(update={"tenant_id": "a/b"})
    with pytest.raises(ValidationError):
        data.model_copy(update={"context_json": None})
