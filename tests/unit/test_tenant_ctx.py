"""`TenantCtx`: its builders and normalized team and user (no store involved)."""

from __future__ import annotations

import pytest

from greentic_session import EnvId, SessionError, TenantCtx, TenantId


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
