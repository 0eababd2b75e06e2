"""The caller's tenant context must match the session's: create, update and
register_wait refuse a misaligned or changed context."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from greentic_session import ErrorCode, SessionError, SessionStore, TenantCtx
from tests.contract.helpers import CTX, SCOPE_A, USER, data_for, find_by_user, raises_invalid, wait
from tests.support import make_ctx

MISMATCH = "tenant context mismatch"


@contextmanager
def raises_mismatch(reason: str) -> Iterator[None]:
    """A context-check failure: invalid input whose message names the reason first."""
    with pytest.raises(SessionError) as error:
        yield
    assert error.value.code is ErrorCode.INVALID_INPUT
    assert error.value.message.startswith(f"{MISMATCH} ({reason})"), error.value.message


CREATE_MISMATCHES = [
    (make_ctx(env="prod", user=USER), "env/tenant must match"),
    (make_ctx(tenant="tenant-b", user=USER), "env/tenant must match"),
    (make_ctx(team="team-b", user=USER), "team must match"),
    (make_ctx(), "user required by session but missing in caller context"),
    (make_ctx(user="bob"), "user must match stored session"),
]


@pytest.mark.parametrize(("caller", "reason"), CREATE_MISMATCHES)
def test_create_session_rejects_a_misaligned_caller(
    store: SessionStore, caller: TenantCtx, reason: str
) -> None:
    with raises_mismatch(reason):
        store.create_session(caller, data_for())


def test_create_session_rejects_team_mismatch(store: SessionStore) -> None:
    """The Rust crate's case: the error names the team."""
    caller = make_ctx(team="team-a", user="user-1")
    stored = make_ctx(team="team-b", user="user-1")
    with pytest.raises(SessionError) as error:
        store.create_session(caller, data_for(stored))
    assert error.value.code is ErrorCode.INVALID_INPUT
    assert "team" in error.value.message


def test_create_session_compares_normalized_team(store: SessionStore) -> None:
    caller = TenantCtx(
        env="dev", tenant="tenant-a", tenant_id="tenant-a", team="old", team_id="red", user=USER
    )
    data = data_for(make_ctx(team="red", user=USER))
    key = store.create_session(caller, data)
    assert store.get_session(key) == data


def test_create_session_compares_tenant_id_not_tenant(store: SessionStore) -> None:
    caller = TenantCtx(env="dev", tenant="display", tenant_id="tenant-a", user_id=USER)
    key = store.create_session(caller, data_for())
    assert store.get_session(key) == data_for()


UPDATE_CHANGES = [
    (make_ctx(env="prod", user=USER), "env/tenant cannot change for an existing session"),
    (make_ctx(tenant="tenant-b", user=USER), "env/tenant cannot change for an existing session"),
    (make_ctx(team="team-b", user=USER), "team cannot change for an existing session"),
    (make_ctx(user="bob"), "user cannot change for an existing session"),
    (make_ctx(), "user cannot change for an existing session"),
]


@pytest.mark.parametrize(("changed", "reason"), UPDATE_CHANGES)
def test_update_session_rejects_a_context_change_and_keeps_the_data(
    store: SessionStore, changed: TenantCtx, reason: str
) -> None:
    key = store.create_session(CTX, data_for(node="kept"))
    with raises_mismatch(reason):
        store.update_session(key, data_for(changed, node="changed"))
    assert store.get_session(key) == data_for(node="kept")


def test_update_session_rejects_introducing_a_user(store: SessionStore) -> None:
    no_user = make_ctx()
    key = store.create_session(no_user, data_for(no_user, node="kept"))
    with raises_mismatch("user cannot be introduced when none was stored"):
        store.update_session(key, data_for(node="changed"))
    assert store.get_session(key) == data_for(no_user, node="kept")


def test_update_session_accepts_the_same_normalized_context(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    same = TenantCtx(
        env="dev", tenant="renamed", tenant_id="tenant-a", user="legacy", user_id=USER, attempt=3
    )
    store.update_session(key, data_for(same, node="next"))
    assert store.get_session(key) == data_for(same, node="next")


def test_update_rejects_context_changes(store: SessionStore) -> None:
    """The Rust crate's case: moving a session to another team is refused."""
    base = make_ctx(team="team-a", user="user-1")
    key = store.create_session(base, data_for(base))
    with raises_invalid():
        store.update_session(key, data_for(base.with_team("team-b")))


@pytest.mark.parametrize(("caller", "reason"), CREATE_MISMATCHES)
def test_register_wait_rejects_a_misaligned_caller(
    store: SessionStore, caller: TenantCtx, reason: str
) -> None:
    with raises_mismatch(reason):
        store.register_wait(caller, USER, SCOPE_A, "k", data_for())
    assert store.get_session("k") is None


def test_register_wait_rejects_user_other_than_callers(store: SessionStore) -> None:
    with raises_invalid("user must match tenant context when registering a wait"):
        store.register_wait(CTX, "bob", SCOPE_A, "k", data_for())
    assert store.get_session("k") is None


def test_register_wait_requires_a_user_in_the_data(store: SessionStore) -> None:
    with raises_invalid("user required by wait but missing in session data"):
        store.register_wait(CTX, USER, SCOPE_A, "k", data_for(make_ctx()))
    assert store.get_session("k") is None


@pytest.mark.parametrize(("changed", "reason"), UPDATE_CHANGES[:3])
def test_register_wait_on_a_live_session_rejects_a_context_change(
    store: SessionStore, changed: TenantCtx, reason: str
) -> None:
    key = store.create_session(CTX, data_for(node="kept"))
    with raises_mismatch(reason):
        store.register_wait(changed, USER, SCOPE_A, key, data_for(changed))
    assert store.get_session(key) == data_for(node="kept")
    assert store.find_wait_by_scope(changed, USER, SCOPE_A) is None


def test_register_wait_on_a_live_session_rejects_introducing_a_user(store: SessionStore) -> None:
    no_user = make_ctx()
    key = store.create_session(no_user, data_for(no_user, node="kept"))
    with raises_mismatch("user cannot be introduced when none was stored"):
        wait(store, key)
    assert store.get_session(key) == data_for(no_user, node="kept")
    assert store.list_waits_for_user(CTX, USER) == []


def test_register_wait_on_a_live_session_rejects_another_user(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    bob = make_ctx(user="bob")
    with raises_mismatch("user cannot change for an existing session"):
        wait(store, "k", SCOPE_A, ctx=bob, user="bob")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.find_wait_by_scope(bob, "bob", SCOPE_A) is None


def test_find_by_user_enforces_team_and_user(store: SessionStore) -> None:
    """The Rust crate's case: the legacy lookup respects team and user boundaries."""
    base = make_ctx(team="team-a", user="user-1")
    wait(store, "k", ctx=base, user="user-1")
    other_team = make_ctx(team="team-b", user="user-1")
    assert find_by_user(store, other_team, "user-1") is None
    assert find_by_user(store, base, "user-2") is None
    found = find_by_user(store, base, "user-1")
    assert found is not None
    assert found[0] == "k"


STORED_USER = "alice-7f3c9d2e"
"""A user id that no other part of a refusal can contain by chance."""


def refusals_by_another_user(store: SessionStore) -> list[SessionError]:
    """Every write another user of the same tenant can attempt on alice's session."""
    alice = make_ctx(team="red", user=STORED_USER)
    key = store.create_session(alice, data_for(alice))
    bob = make_ctx(team="red", user="bob")
    attempts: list[Callable[[], object]] = [
        lambda: store.create_session(bob, data_for(alice)),
        lambda: store.update_session(key, data_for(bob)),
        lambda: store.register_wait(bob, "bob", SCOPE_A, key, data_for(bob)),
        lambda: store.register_wait(bob, "bob", SCOPE_A, "fresh", data_for(alice)),
        lambda: store.create_session(make_ctx(team="red"), data_for(alice)),
        lambda: store.update_session(key, data_for(make_ctx(team="red"))),
    ]
    errors = []
    for attempt in attempts:
        with pytest.raises(SessionError) as error:
            attempt()
        errors.append(error.value)
    return errors


def test_a_refused_write_never_names_the_stored_sessions_user(store: SessionStore) -> None:
    for error in refusals_by_another_user(store):
        assert error.code is ErrorCode.INVALID_INPUT
        assert STORED_USER not in error.message
        assert STORED_USER not in str(error)


def test_a_refused_write_names_the_users_presence_as_the_rust_crate(store: SessionStore) -> None:
    create, update = refusals_by_another_user(store)[:2]
    assert create.message == (
        "tenant context mismatch (user must match stored session): "
        "expected env=dev, tenant=tenant-a, team=red, user=present, "
        "got env=dev, tenant=tenant-a, team=red, user=present"
    )
    assert update.message == (
        "tenant context mismatch (user cannot change for an existing session): "
        "expected env=dev, tenant=tenant-a, team=red, user=present, "
        "got env=dev, tenant=tenant-a, team=red, user=present"
    )
