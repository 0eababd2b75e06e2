"""A wait is visible only to its env, tenant, team and user; lookups use the normalized
identifiers."""

from __future__ import annotations

import pytest

from greentic_session import SessionStore, TenantCtx
from tests.contract.helpers import CTX, SCOPE_A, USER, find_by_user, wait
from tests.support import make_ctx

OUTSIDERS = {
    "other-env": make_ctx(env="prod", user=USER),
    "other-tenant": make_ctx(tenant="tenant-b", user=USER),
    "other-team": make_ctx(team="team-b", user=USER),
}


@pytest.mark.parametrize("outsider", list(OUTSIDERS), ids=str)
def test_wait_is_invisible_outside_its_env_tenant_and_team(
    store: SessionStore, outsider: str
) -> None:
    wait(store, "k")
    ctx = OUTSIDERS[outsider]
    assert store.find_wait_by_scope(ctx, USER, SCOPE_A) is None
    assert store.list_waits_for_user(ctx, USER) == []
    assert find_by_user(store, ctx, USER) is None


def test_wait_in_a_team_is_invisible_without_the_team(store: SessionStore) -> None:
    team_ctx = make_ctx(team="team-a", user=USER)
    wait(store, "k", ctx=team_ctx)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == []
    assert store.find_wait_by_scope(team_ctx, USER, SCOPE_A) == "k"


def test_wait_is_invisible_to_another_user(store: SessionStore) -> None:
    wait(store, "k")
    assert store.find_wait_by_scope(CTX, "bob", SCOPE_A) is None
    assert store.list_waits_for_user(CTX, "bob") == []
    assert find_by_user(store, CTX, "bob") is None


@pytest.mark.parametrize("outsider", list(OUTSIDERS), ids=str)
def test_clear_wait_from_outside_leaves_the_wait(store: SessionStore, outsider: str) -> None:
    wait(store, "k")
    store.clear_wait(OUTSIDERS[outsider], USER, SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.get_session("k") is not None


def test_clear_wait_of_another_user_leaves_the_wait(store: SessionStore) -> None:
    wait(store, "k")
    store.clear_wait(CTX, "bob", SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"


def test_same_scope_of_two_users_routes_to_each_users_session(store: SessionStore) -> None:
    bob = make_ctx(user="bob")
    wait(store, "alice-k", SCOPE_A)
    wait(store, "bob-k", SCOPE_A, ctx=bob, user="bob")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "alice-k"
    assert store.find_wait_by_scope(bob, "bob", SCOPE_A) == "bob-k"
    assert store.list_waits_for_user(CTX, USER) == ["alice-k"]


def test_same_scope_in_two_teams_routes_to_each_teams_session(store: SessionStore) -> None:
    red = make_ctx(team="red", user=USER)
    wait(store, "no-team", SCOPE_A)
    wait(store, "red-team", SCOPE_A, ctx=red)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "no-team"
    assert store.find_wait_by_scope(red, USER, SCOPE_A) == "red-team"


def test_lookup_uses_tenant_id_not_tenant(store: SessionStore) -> None:
    wait(store, "k")
    renamed = TenantCtx(env="dev", tenant="display-name", tenant_id="tenant-a")
    assert store.find_wait_by_scope(renamed, USER, SCOPE_A) == "k"
    other_id = TenantCtx(env="dev", tenant="tenant-a", tenant_id="tenant-b")
    assert store.find_wait_by_scope(other_id, USER, SCOPE_A) is None


def test_lookup_uses_normalized_team(store: SessionStore) -> None:
    via_team_id = TenantCtx(
        env="dev", tenant="tenant-a", tenant_id="tenant-a", team_id="red", user_id=USER
    )
    wait(store, "k", ctx=via_team_id)
    via_team = TenantCtx(env="dev", tenant="tenant-a", tenant_id="tenant-a", team="red")
    assert store.find_wait_by_scope(via_team, USER, SCOPE_A) == "k"
    shadowed = via_team.model_copy(update={"team_id": "blue"})
    assert store.find_wait_by_scope(shadowed, USER, SCOPE_A) is None


def test_lookup_uses_normalized_user_of_the_stored_data(store: SessionStore) -> None:
    ctx = TenantCtx(env="dev", tenant="tenant-a", tenant_id="tenant-a", user="old", user_id=USER)
    wait(store, "k", ctx=ctx)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.find_wait_by_scope(CTX, "old", SCOPE_A) is None
