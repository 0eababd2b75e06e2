"""Identifiers and session keys: what they accept, and the `invalid_input` errors for the
rest (no store involved)."""

from __future__ import annotations

import hashlib
import json

import pytest

from greentic_session import (
    EnvId,
    ErrorCode,
    FlowId,
    Impersonation,
    PackId,
    SessionCursor,
    SessionData,
    SessionError,
    SessionKey,
    TeamId,
    TenantCtx,
    TenantId,
    UserId,
)
from tests.support import make_ctx, make_data

IDENTIFIER_TYPES = [EnvId, TenantId, TeamId, UserId, FlowId, PackId]
CHARSET_MESSAGE = "must contain only ASCII letters, digits, '.', '-', or '_'"


def assert_invalid(error: pytest.ExceptionInfo[SessionError], message: str | None = None) -> None:
    assert error.value.code is ErrorCode.INVALID_INPUT
    if message is not None:
        assert error.value.message == message


# -- identifiers ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", IDENTIFIER_TYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("value", ["a", "Tenant-01", "user_9.x", "A.B-C_D", "0"])
def test_identifier_accepts_ascii_letters_digits_dot_dash_underscore(
    kind: type[str], value: str
) -> None:
    identifier = kind(value)
    assert isinstance(identifier, str)
    assert identifier == value


@pytest.mark.parametrize("kind", IDENTIFIER_TYPES, ids=lambda t: t.__name__)
def test_empty_identifier_is_invalid_input_naming_the_type(kind: type[str]) -> None:
    with pytest.raises(SessionError) as error:
        kind("")
    assert_invalid(error, f"{kind.__name__} must not be empty")


@pytest.mark.parametrize("kind", IDENTIFIER_TYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("value", ["a b", "a/b", "a:b", "héllo", "line\n", "tab\t", "a\x00", "😀"])
def test_identifier_with_other_characters_is_invalid_input(kind: type[str], value: str) -> None:
    with pytest.raises(SessionError) as error:
        kind(value)
    assert_invalid(error, f"{kind.__name__} {CHARSET_MESSAGE}")


def test_user_id_messages_are_exact() -> None:
    with pytest.raises(SessionError) as empty:
        UserId("")
    assert_invalid(empty, "UserId must not be empty")
    with pytest.raises(SessionError) as bad:
        UserId("no spaces")
    assert_invalid(bad, "UserId must contain only ASCII letters, digits, '.', '-', or '_'")


@pytest.mark.parametrize("value", [5, None, b"user", 1.5])
def test_identifier_from_non_string_is_invalid_input(value: object) -> None:
    with pytest.raises(SessionError) as error:
        UserId(value)
    assert_invalid(error)


def test_identifier_errors_are_session_errors_not_value_errors() -> None:
    """Callers catch one exception type for every bad input."""
    with pytest.raises(SessionError) as error:
        TeamId("bad team")
    assert not isinstance(error.value, ValueError)


def test_tenant_ctx_with_bad_env_raises_the_identifier_error() -> None:
    with pytest.raises(SessionError) as error:
        TenantCtx(env="", tenant="t", tenant_id="t")
    assert_invalid(error, "EnvId must not be empty")


def test_tenant_ctx_new_with_bad_tenant_raises_the_identifier_error() -> None:
    with pytest.raises(SessionError) as error:
        TenantCtx.new("dev", "bad tenant")
    assert_invalid(error, f"TenantId {CHARSET_MESSAGE}")


def test_with_user_with_bad_user_raises_the_identifier_error() -> None:
    with pytest.raises(SessionError) as error:
        make_ctx().with_user("")
    assert_invalid(error, "UserId must not be empty")


def test_with_team_with_bad_team_raises_the_identifier_error() -> None:
    with pytest.raises(SessionError) as error:
        make_ctx().with_team("a/b")
    assert_invalid(error, f"TeamId {CHARSET_MESSAGE}")


def test_parsing_json_with_bad_identifier_raises_the_identifier_error() -> None:
    document = json.dumps({"env": "dev", "tenant": "t", "tenant_id": "t", "user_id": "a b"})
    with pytest.raises(SessionError) as error:
        TenantCtx.model_validate_json(document)
    assert_invalid(error, f"UserId {CHARSET_MESSAGE}")


def test_session_data_with_bad_flow_id_raises_the_identifier_error() -> None:
    with pytest.raises(SessionError) as error:
        make_data(make_ctx(), flow="flow one")
    assert_invalid(error, f"FlowId {CHARSET_MESSAGE}")


def test_session_data_with_empty_pack_id_raises_the_identifier_error() -> None:
    with pytest.raises(SessionError) as error:
        SessionData(
            tenant_ctx=make_ctx(),
            flow_id="flow",
            pack_id="",
            cursor=SessionCursor(node_pointer="n"),
            context_json="{}",
        )
    assert_invalid(error, "PackId must not be empty")


def test_impersonation_with_bad_actor_raises_the_identifier_error() -> None:
    with pytest.raises(SessionError) as error:
        Impersonation(actor_id="")
    assert_invalid(error, "UserId must not be empty")


# -- session keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "k",
        hashlib.sha256(b"x").hexdigest(),
        "tenant:provider:anchor:user",
        "with spaces / slashes",
        "ünïcødé 😀",
    ],
)
def test_session_key_accepts_any_non_empty_text(value: str) -> None:
    key = SessionKey(value)
    assert isinstance(key, str)
    assert key == value


def test_empty_session_key_is_invalid_input() -> None:
    with pytest.raises(SessionError) as error:
        SessionKey("")
    assert_invalid(error)
