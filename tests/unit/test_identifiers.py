"""Unit tests of the public types, key helpers and context rules (no store involved)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from greentic_session import (
    EnvId,
    ErrorCode,
    FlowId,
    Impersonation,
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
    WaitScope,
)
from greentic_session.domain.mapping import (
    canonical_session_key,
    telegram_update_to_session_key,
    webhook_to_session_key,
)
from greentic_session.domain.rules import ensure_alignment, ensure_preserved, ensure_wait_user
from tests.support import make_ctx, make_data

IDENTIFIER_TYPES = [EnvId, TenantId, TeamId, UserId, FlowId, PackId]
CHARSET_MESSAGE = "must contain only ASCII letters, digits, '.', '-', or '_'"

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


# -- tenant context ------------------------------------------------------------------------


def test_tenant_ctx_new_sets_tenant_and_tenant_id() -> None:
    ctx = TenantCtx.new("dev", "acme")
    assert (ctx.env, ctx.tenant, ctx.tenant_id) == ("dev", "acme", "acme")
    assert (ctx.team, ctx.team_id, ctx.user, ctx.user_id) == (None, None, None, None)
    assert ctx.attributes == {}
    assert ctx.attempt == 0


def test_tenant_ctx_new_returns_validated_identifier_types() -> None:
    ctx = TenantCtx.new("dev", "acme")
    assert isinstance(ctx.env, EnvId)
    assert isinstance(ctx.tenant_id, TenantId)


def test_with_team_sets_team_and_team_id_on_a_new_context() -> None:
    base = TenantCtx.new("dev", "acme")
    ctx = base.with_team("support")
    assert (ctx.team, ctx.team_id) == ("support", "support")
    assert (base.team, base.team_id) == (None, None)


def test_with_user_sets_user_and_user_id_on_a_new_context() -> None:
    base = TenantCtx.new("dev", "acme")
    ctx = base.with_user("alice")
    assert (ctx.user, ctx.user_id) == ("alice", "alice")
    assert (base.user, base.user_id) == (None, None)


def test_with_team_and_with_user_keep_the_other_fields() -> None:
    ctx = TenantCtx.new("dev", "acme").with_team("support").with_user("alice")
    assert (ctx.env, ctx.tenant_id, ctx.team_id, ctx.user_id) == ("dev", "acme", "support", "alice")


def test_normalized_team_prefers_team_id_over_team() -> None:
    ctx = TenantCtx(env="dev", tenant="t", tenant_id="t", team="legacy", team_id="current")
    assert ctx.normalized_team == "current"
    assert TenantCtx(env="dev", tenant="t", tenant_id="t", team="legacy").normalized_team == (
        "legacy"
    )


def test_normalized_user_prefers_user_id_over_user() -> None:
    ctx = TenantCtx(env="dev", tenant="t", tenant_id="t", user="legacy", user_id="current")
    assert ctx.normalized_user == "current"
    assert TenantCtx(env="dev", tenant="t", tenant_id="t", user="legacy").normalized_user == (
        "legacy"
    )


def test_attempt_cannot_be_negative() -> None:
    with pytest.raises((SessionError, ValueError)):
        TenantCtx(env="dev", tenant="t", tenant_id="t", attempt=-1)


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


# -- reply scopes --------------------------------------------------------------------------


def test_scope_hash_matches_the_spec_vector() -> None:
    scope = ReplyScope(
        conversation="chat-1", thread="topic-9", reply_to="msg-3", correlation="cid-7"
    )
    assert scope.scope_hash() == "5251e2c9eb975466809eecbe51be7aa8dc7785ad05cb393a8f47a3a2f42cc544"


def test_scope_hash_uses_empty_parts_for_unset_fields() -> None:
    expected = hashlib.sha256(b"chat-1\n\nmsg-3\n").hexdigest()
    assert ReplyScope(conversation="chat-1", reply_to="msg-3").scope_hash() == expected


def test_scope_hash_hashes_utf8_text() -> None:
    expected = hashlib.sha256("çhat 😀\nthread\n\n".encode()).hexdigest()
    assert ReplyScope(conversation="çhat 😀", thread="thread").scope_hash() == expected


def test_scopes_differing_in_one_part_hash_differently() -> None:
    base = ReplyScope(conversation="c", thread="t")
    assert base.scope_hash() != ReplyScope(conversation="c", reply_to="t").scope_hash()
    assert base.scope_hash() != ReplyScope(conversation="c").scope_hash()


def test_wait_scope_is_reply_scope() -> None:
    assert WaitScope is ReplyScope


# -- key helpers ---------------------------------------------------------------------------


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_telegram_key_is_sha256_of_tg_bot_chat_user() -> None:
    key = telegram_update_to_session_key("bot-1", "-100200", "42")
    assert key == sha256_hex("tg:bot-1:-100200:42")
    assert isinstance(key, SessionKey)


def test_webhook_key_is_sha256_of_wh_source_subject_hint() -> None:
    key = webhook_to_session_key("github", "repo/issue", "evt-7")
    assert key == sha256_hex("wh:github:repo/issue:evt-7")
    assert isinstance(key, SessionKey)


def test_mapping_keys_are_deterministic_and_distinct() -> None:
    assert telegram_update_to_session_key("b", "c", "u") == telegram_update_to_session_key(
        "b", "c", "u"
    )
    assert telegram_update_to_session_key("b", "c", "u") != telegram_update_to_session_key(
        "b", "c", "v"
    )
    assert telegram_update_to_session_key("b", "c", "u") != webhook_to_session_key("b", "c", "u")


def test_canonical_key_with_all_parts() -> None:
    assert canonical_session_key("acme", "slack", "thread-1", "alice") == (
        "acme:slack:thread-1:alice"
    )


def test_canonical_key_defaults_anchor_and_user() -> None:
    key = canonical_session_key("acme", "slack")
    assert key == "acme:slack:conversation:user"
    assert isinstance(key, SessionKey)


def test_canonical_key_defaults_only_the_missing_part() -> None:
    assert canonical_session_key("acme", "slack", user="bob") == "acme:slack:conversation:bob"
    assert canonical_session_key("acme", "slack", anchor="a1") == "acme:slack:a1:user"


# -- context rules -------------------------------------------------------------------------


def rule_error(call: Any, *args: Any) -> SessionError:
    with pytest.raises(SessionError) as error:
        call(*args)
    assert error.value.code is ErrorCode.INVALID_INPUT
    return error.value


def test_alignment_message_names_expected_and_given_context() -> None:
    stored = make_ctx(env="dev", tenant="acme", team="red", user="alice")
    caller = make_ctx(env="prod", tenant="other", user="bob")
    error = rule_error(ensure_alignment, caller, make_data(stored))
    assert error.message == (
        "tenant context mismatch (env/tenant must match): "
        "expected env=dev, tenant=acme, team=red, user=alice, "
        "got env=prod, tenant=other, team=-, user=bob"
    )


@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        (make_ctx(env="prod", user="alice"), "env/tenant must match"),
        (make_ctx(tenant="other", user="alice"), "env/tenant must match"),
        (make_ctx(team="blue", user="alice"), "team must match"),
        (make_ctx(), "team must match"),
        (make_ctx(team="red"), "user required by session but missing in caller context"),
        (make_ctx(team="red", user="bob"), "user must match stored session"),
    ],
)
def test_alignment_reasons(caller: TenantCtx, reason: str) -> None:
    data = make_data(make_ctx(team="red", user="alice"))
    error = rule_error(ensure_alignment, caller, data)
    assert error.message.startswith(f"tenant context mismatch ({reason})")


def test_alignment_compares_tenant_id_not_tenant() -> None:
    caller = TenantCtx(env="dev", tenant="display-name", tenant_id="acme")
    ensure_alignment(caller, make_data(TenantCtx.new("dev", "acme")))


def test_alignment_compares_normalized_team() -> None:
    caller = TenantCtx(env="dev", tenant="acme", tenant_id="acme", team="old", team_id="red")
    ensure_alignment(caller, make_data(make_ctx(tenant="acme", team="red")))


def test_alignment_accepts_caller_user_when_data_has_none() -> None:
    ensure_alignment(make_ctx(user="alice"), make_data(make_ctx()))


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (make_ctx(env="prod", user="alice"), "env/tenant cannot change for an existing session"),
        (
            make_ctx(tenant="other", user="alice"),
            "env/tenant cannot change for an existing session",
        ),
        (make_ctx(team="red", user="alice"), "team cannot change for an existing session"),
        (make_ctx(user="bob"), "user cannot change for an existing session"),
        (make_ctx(), "user cannot change for an existing session"),
    ],
)
def test_preservation_reasons(candidate: TenantCtx, reason: str) -> None:
    error = rule_error(ensure_preserved, make_ctx(user="alice"), candidate)
    assert error.message.startswith(f"tenant context mismatch ({reason})")


def test_preservation_refuses_introducing_a_user() -> None:
    error = rule_error(ensure_preserved, make_ctx(), make_ctx(user="alice"))
    assert error.message.startswith(
        "tenant context mismatch (user cannot be introduced when none was stored)"
    )


@pytest.mark.parametrize(
    ("existing", "candidate"),
    [
        (make_ctx(), make_ctx()),
        (make_ctx(team="red", user="alice"), make_ctx(team="red", user="alice")),
        (
            make_ctx(user="alice"),
            TenantCtx(env="dev", tenant="renamed", tenant_id="tenant-a", user="alice"),
        ),
    ],
)
def test_preservation_accepts_unchanged_context(existing: TenantCtx, candidate: TenantCtx) -> None:
    ensure_preserved(existing, candidate)


def test_wait_user_must_match_caller_user() -> None:
    error = rule_error(
        ensure_wait_user, make_ctx(user="alice"), UserId("bob"), make_data(make_ctx(user="alice"))
    )
    assert error.message == "user must match tenant context when registering a wait"


def test_wait_user_required_in_session_data() -> None:
    error = rule_error(ensure_wait_user, make_ctx(), UserId("alice"), make_data(make_ctx()))
    assert error.message == "user required by wait but missing in session data"


def test_wait_user_rules_check_alignment_first() -> None:
    error = rule_error(
        ensure_wait_user, make_ctx(env="prod"), UserId("alice"), make_data(make_ctx(user="alice"))
    )
    assert error.message.startswith("tenant context mismatch (env/tenant must match)")


def test_wait_user_rules_accept_matching_users() -> None:
    ensure_wait_user(make_ctx(user="alice"), UserId("alice"), make_data(make_ctx(user="alice")))


def test_unknown_fields_from_a_newer_rust_crate_are_ignored() -> None:
    raw = '{"env": "dev", "tenant": "t", "tenant_id": "t", "attempt": 0, "added_later": 1}'
    assert TenantCtx.model_validate_json(raw) == TenantCtx.new("dev", "t")
