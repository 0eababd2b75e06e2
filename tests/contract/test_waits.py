"""The contract of SEMANTICS.md, run on every backend through the `store` fixture.

The store reads time from `fake_clock`, so expiry is decided by moving that clock.
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from functools import partial
from typing import Any

import pytest

from greentic_session import (
    ErrorCode,
    Impersonation,
    InvocationDeadline,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionError,
    SessionKey,
    SessionStore,
    TenantCtx,
    UserId,
)
from tests.conftest import open_store
from tests.support import (
    FakeClock,
    make_ctx,
    make_data,
    make_scope,
    raises_code,
    run_together,
)

USER = "alice"
CTX = make_ctx(user=USER)
SCOPE_A = make_scope("telegram:chat-a")
SCOPE_B = make_scope("telegram:chat-b")
SCOPE_C = make_scope("telegram:chat-a", thread="topic-1")
TTL = timedelta(minutes=10)

MISMATCH = "tenant context mismatch"


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


@contextmanager
def raises_mismatch(reason: str) -> Iterator[None]:
    """A context-check failure: invalid input whose message names the reason first."""
    with pytest.raises(SessionError) as error:
        yield
    assert error.value.code is ErrorCode.INVALID_INPUT
    assert error.value.message.startswith(f"{MISMATCH} ({reason})"), error.value.message


# -- create, get, update, remove -----------------------------------------------------------


def test_create_get_update_remove_flow_session(store: SessionStore) -> None:
    """The Rust crate's round trip."""
    data = data_for(node="node.enter", context_json='{"step":1}')
    key = store.create_session(CTX, data)
    assert store.get_session(key) == data

    updated = data_for(node="node.wait", context_json='{"step":2}')
    store.update_session(key, updated)
    after = store.get_session(key)
    assert after is not None
    assert after.cursor.node_pointer == "node.wait"

    store.remove_session(key)
    assert store.get_session(key) is None


def test_create_session_returns_a_uuid4_text_key(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    assert isinstance(key, SessionKey)
    parsed = uuid.UUID(key)
    assert parsed.version == 4
    assert str(parsed) == key


def test_create_session_returns_a_new_key_each_time(store: SessionStore) -> None:
    keys = {store.create_session(CTX, data_for()) for _ in range(5)}
    assert len(keys) == 5


def test_get_session_returns_the_created_data(store: SessionStore) -> None:
    data = data_for(node="node.start", context_json='{"a":1}')
    key = store.create_session(CTX, data)
    assert store.get_session(key) == data


def test_get_session_accepts_a_plain_str_key(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    assert store.get_session(str(key)) == data_for()


def test_get_session_of_an_unknown_key_is_none(store: SessionStore) -> None:
    assert store.get_session("no-such-session") is None


def test_update_session_replaces_the_data(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for(node="one"))
    store.update_session(key, data_for(node="two", context_json='{"v":2}'))
    assert store.get_session(key) == data_for(node="two", context_json='{"v":2}')


def test_remove_session_makes_the_session_unreadable(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    store.remove_session(key)
    assert store.get_session(key) is None


def test_remove_session_leaves_other_sessions(store: SessionStore) -> None:
    first = store.create_session(CTX, data_for(node="first"))
    second = store.create_session(CTX, data_for(node="second"))
    store.remove_session(first)
    assert store.get_session(second) == data_for(node="second")


def test_created_session_never_expires(store: SessionStore, fake_clock: FakeClock) -> None:
    key = store.create_session(CTX, data_for())
    fake_clock.advance(timedelta(days=3650))
    assert store.get_session(key) == data_for()


def test_created_session_is_not_a_wait(store: SessionStore) -> None:
    store.create_session(CTX, data_for())
    assert store.list_waits_for_user(CTX, USER) == []
    assert find_by_user(store, CTX, USER) is None


def test_create_session_without_user_in_data(store: SessionStore) -> None:
    """Alignment asks for a caller user only when the data names one."""
    data = data_for(make_ctx())
    key = store.create_session(CTX, data)
    assert store.get_session(key) == data


# -- not found -----------------------------------------------------------------------------


ENDINGS = ["never-created", "removed", "cleared", "expired"]


def ended_session(store: SessionStore, clock: FakeClock, how: str) -> str:
    """A key with no live session, reached the way `how` says."""
    key = f"session-{how}"
    if how == "never-created":
        return key
    wait(store, key, ttl=TTL if how == "expired" else None)
    if how == "removed":
        store.remove_session(key)
    elif how == "cleared":
        store.clear_wait(CTX, USER, SCOPE_A)
    else:
        clock.advance(TTL + timedelta(seconds=1))
    return key


@pytest.mark.parametrize("how", ENDINGS)
def test_update_without_live_session_is_not_found(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = ended_session(store, fake_clock, how)
    with raises_not_found(key):
        store.update_session(key, data_for())
    assert store.get_session(key) is None


@pytest.mark.parametrize("how", ENDINGS)
def test_remove_without_live_session_is_not_found(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = ended_session(store, fake_clock, how)
    with raises_not_found(key):
        store.remove_session(key)


@pytest.mark.parametrize("how", ENDINGS)
def test_get_without_live_session_is_none(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = ended_session(store, fake_clock, how)
    assert store.get_session(key) is None


@pytest.mark.parametrize("how", ENDINGS)
def test_ended_session_is_no_longer_a_wait(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    ended_session(store, fake_clock, how)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == []
    assert find_by_user(store, CTX, USER) is None


def test_removing_twice_is_not_found(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    store.remove_session(key)
    with raises_not_found(key):
        store.remove_session(key)


# -- input validation ----------------------------------------------------------------------


def test_get_session_with_empty_key_is_invalid_input(store: SessionStore) -> None:
    with raises_invalid():
        store.get_session("")


def test_update_session_with_empty_key_is_invalid_input(store: SessionStore) -> None:
    with raises_invalid():
        store.update_session("", data_for())


def test_remove_session_with_empty_key_is_invalid_input(store: SessionStore) -> None:
    with raises_invalid():
        store.remove_session("")


def test_register_wait_with_empty_key_is_invalid_input(store: SessionStore) -> None:
    with raises_invalid():
        wait(store, "")
    assert store.list_waits_for_user(CTX, USER) == []


BAD_USERS = [
    ("", "UserId must not be empty"),
    ("bad user", "UserId must contain only ASCII letters, digits, '.', '-', or '_'"),
    ("a/b", "UserId must contain only ASCII letters, digits, '.', '-', or '_'"),
]


@pytest.mark.parametrize(("user", "message"), BAD_USERS)
def test_register_wait_with_invalid_user_str_is_invalid_input(
    store: SessionStore, user: str, message: str
) -> None:
    with raises_invalid(message):
        store.register_wait(CTX, user, SCOPE_A, "k", data_for())
    assert store.get_session("k") is None


@pytest.mark.parametrize(("user", "message"), BAD_USERS)
def test_find_wait_by_scope_with_invalid_user_str_is_invalid_input(
    store: SessionStore, user: str, message: str
) -> None:
    with raises_invalid(message):
        store.find_wait_by_scope(CTX, user, SCOPE_A)


@pytest.mark.parametrize(("user", "message"), BAD_USERS)
def test_list_waits_with_invalid_user_str_is_invalid_input(
    store: SessionStore, user: str, message: str
) -> None:
    with raises_invalid(message):
        store.list_waits_for_user(CTX, user)


@pytest.mark.parametrize(("user", "message"), BAD_USERS)
def test_clear_wait_with_invalid_user_str_is_invalid_input(
    store: SessionStore, user: str, message: str
) -> None:
    with raises_invalid(message):
        store.clear_wait(CTX, user, SCOPE_A)


@pytest.mark.parametrize(("user", "message"), BAD_USERS)
def test_find_by_user_with_invalid_user_str_is_invalid_input(
    store: SessionStore, user: str, message: str
) -> None:
    with raises_invalid(message), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        store.find_by_user(CTX, user)


@pytest.mark.parametrize("ttl", [60, 1.5, "PT1M", 0], ids=["int", "float", "str", "zero-int"])
def test_ttl_that_is_not_a_timedelta_is_invalid_input(store: SessionStore, ttl: object) -> None:
    with raises_invalid():
        store.register_wait(CTX, USER, SCOPE_A, "k", data_for(), ttl)  # type: ignore[arg-type]
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_identifier_and_key_instances_are_accepted(store: SessionStore) -> None:
    wait(store, SessionKey("typed"), user=UserId(USER))
    assert store.find_wait_by_scope(CTX, UserId(USER), SCOPE_A) == "typed"
    assert store.list_waits_for_user(CTX, UserId(USER)) == ["typed"]
    store.update_session(SessionKey("typed"), data_for(node="typed"))
    assert store.get_session(SessionKey("typed")) == data_for(node="typed")


WRONG_TYPES = {
    "ctx-as-dict": lambda s: s.create_session(CTX.model_dump(), data_for()),
    "data-as-dict": lambda s: s.create_session(CTX, data_for().model_dump()),
    "data-as-json": lambda s: s.update_session("k", data_for().model_dump_json()),
    "scope-as-str": lambda s: s.register_wait(CTX, USER, "chat-a", "k", data_for()),
    "key-as-int": lambda s: s.get_session(42),
    "lookup-scope-as-dict": lambda s: s.find_wait_by_scope(CTX, USER, {"conversation": "c"}),
}


@pytest.mark.parametrize("call", list(WRONG_TYPES), ids=str)
def test_arguments_of_the_wrong_type_are_invalid_input(store: SessionStore, call: str) -> None:
    """Every failure a caller sees is a SessionError, wrong argument types included."""
    with raises_invalid():
        WRONG_TYPES[call](store)


# -- waits ---------------------------------------------------------------------------------


def test_multiple_waits_are_indexed_and_routed_by_scope(store: SessionStore) -> None:
    """The Rust crate's case: two waits of one user, each found by its own scope."""
    wait(store, "wait-a", SCOPE_A, data=data_for(node="node.wait.a", context_json='{"step":10}'))
    wait(store, "wait-b", SCOPE_B, data=data_for(node="node.wait.b", context_json='{"step":11}'))
    assert sorted(store.list_waits_for_user(CTX, USER)) == ["wait-a", "wait-b"]
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "wait-a"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == "wait-b"


def test_scopes_differing_only_in_thread_are_distinct(store: SessionStore) -> None:
    wait(store, "plain", SCOPE_A)
    wait(store, "threaded", SCOPE_C)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "plain"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_C) == "threaded"


def test_register_wait_stores_the_data_under_the_given_key(store: SessionStore) -> None:
    data = data_for(node="node.ask", context_json='{"q":"name?"}')
    wait(store, "conv-1", data=data)
    assert store.get_session("conv-1") == data


def test_register_wait_on_a_created_session_keeps_its_key(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for(node="start"))
    wait(store, key, data=data_for(node="asked"))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == key
    assert store.get_session(key) == data_for(node="asked")


def test_find_wait_by_scope_returns_a_session_key(store: SessionStore) -> None:
    wait(store, "k")
    found = store.find_wait_by_scope(CTX, USER, SCOPE_A)
    assert isinstance(found, SessionKey)
    listed = store.list_waits_for_user(CTX, USER)
    assert all(isinstance(key, SessionKey) for key in listed)


def test_find_wait_by_unknown_scope_is_none(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) is None


def test_lookups_need_no_user_in_the_caller_context(store: SessionStore) -> None:
    wait(store, "k")
    ctx_without_user = make_ctx()
    assert store.find_wait_by_scope(ctx_without_user, USER, SCOPE_A) == "k"
    assert store.list_waits_for_user(ctx_without_user, USER) == ["k"]


def test_wait_with_special_characters_in_key_and_scope(store: SessionStore) -> None:
    key = "tenant:prov/ider:ánchor 😀:'; DROP TABLE sessions; --%_\\"
    scope = ReplyScope(conversation="çhat\n'\"\\ 😀", thread="%", reply_to="_", correlation="'")
    wait(store, key, scope)
    assert store.find_wait_by_scope(CTX, USER, scope) == key
    assert store.list_waits_for_user(CTX, USER) == [key]
    assert store.get_session(key) == data_for(node=f"node.{key}")
    store.remove_session(key)
    assert store.find_wait_by_scope(CTX, USER, scope) is None


def test_keys_differing_in_case_space_or_normalization_are_distinct(
    store: SessionStore,
) -> None:
    keys = ["k", "K", "k ", " k", "caf\u00e9", "cafe\u0301"]
    for n, key in enumerate(keys):
        wait(store, key, make_scope(f"chat-{n}"))
    assert store.list_waits_for_user(CTX, USER) == keys
    for key in keys:
        assert store.get_session(key) == data_for(node=f"node.{key}")
    store.remove_session("k")
    assert [store.get_session(key) is None for key in keys] == [True] + [False] * 5


def test_a_long_session_key_works(store: SessionStore) -> None:
    """Keys are any non-empty text; an incompressible 4,096-character key still routes."""
    key = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(64))
    wait(store, key)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == key
    assert store.get_session(key) == data_for(node=f"node.{key}")
    store.update_session(key, data_for(node="updated"))
    store.remove_session(key)
    assert store.get_session(key) is None


def test_scope_text_with_nul_and_long_parts_routes(store: SessionStore) -> None:
    scope = ReplyScope(conversation="chat\x00one", thread="t" * 5000, correlation="ü\x00")
    wait(store, "k", scope)
    assert store.find_wait_by_scope(CTX, USER, scope) == "k"
    assert store.find_wait_by_scope(CTX, USER, make_scope("chat\x00one")) is None
    store.clear_wait(CTX, USER, scope)
    assert store.get_session("k") is None


def test_find_by_user_is_ambiguous_with_multiple_waits(store: SessionStore) -> None:
    """The Rust crate's case: the legacy lookup refuses to guess between waits."""
    wait(store, "ambiguous-a", make_scope("slack:thread-a"))
    wait(store, "ambiguous-b", make_scope("slack:thread-b"))
    with pytest.raises(SessionError) as error, pytest.warns(DeprecationWarning):
        store.find_by_user(CTX, USER)
    assert error.value.code is ErrorCode.INVALID_INPUT
    assert "multiple waits exist for user; use scope-based routing instead" in error.value.message


def test_find_by_user_returns_the_single_wait_with_its_data(store: SessionStore) -> None:
    data = data_for(node="only", context_json='{"only":true}')
    wait(store, "only", data=data)
    assert find_by_user(store, CTX, USER) == ("only", data)


def test_find_by_user_without_waits_is_none(store: SessionStore) -> None:
    assert find_by_user(store, CTX, USER) is None


def test_find_by_user_emits_a_deprecation_warning(store: SessionStore) -> None:
    wait(store, "k")
    with pytest.warns(DeprecationWarning):
        store.find_by_user(CTX, USER)


def test_find_by_user_counts_only_live_waits(store: SessionStore) -> None:
    wait(store, "gone", SCOPE_A)
    wait(store, "kept", SCOPE_B)
    store.remove_session("gone")
    found = find_by_user(store, CTX, USER)
    assert found is not None
    assert found[0] == "kept"


# -- context fences ------------------------------------------------------------------------


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


# -- isolation -----------------------------------------------------------------------------


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


# -- clear_wait ----------------------------------------------------------------------------


def test_clear_wait_ends_the_session(store: SessionStore) -> None:
    wait(store, "k")
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == []


def test_clear_wait_leaves_the_users_other_waits(store: SessionStore) -> None:
    wait(store, "a", SCOPE_A)
    wait(store, "b", SCOPE_B)
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.list_waits_for_user(CTX, USER) == ["b"]
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == "b"


def test_clear_wait_without_a_wait_is_a_no_op(store: SessionStore) -> None:
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.list_waits_for_user(CTX, USER) == []


def test_clear_wait_on_another_scope_leaves_the_wait(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    key = store.create_session(CTX, data_for(node="plain"))
    store.clear_wait(CTX, USER, SCOPE_B)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.get_session(key) == data_for(node="plain")


def test_clear_wait_twice_is_a_no_op(store: SessionStore) -> None:
    wait(store, "k")
    store.clear_wait(CTX, USER, SCOPE_A)
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.get_session("k") is None


# -- scope takeover ------------------------------------------------------------------------


def test_second_wait_on_the_same_scope_takes_over_routing(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"


def test_superseded_session_leaves_the_users_waits(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    assert store.list_waits_for_user(CTX, USER) == ["second"]
    assert find_by_user(store, CTX, USER) == ("second", data_for(node="node.second"))


def test_superseded_session_data_stays_readable(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    assert store.get_session("first") == data_for(node="node.first")


def test_superseded_session_can_still_be_updated(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    store.update_session("first", data_for(node="later"))
    assert store.get_session("first") == data_for(node="later")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"


def test_removing_the_superseded_session_keeps_the_new_owners_routing(
    store: SessionStore,
) -> None:
    """Improvement over the reference, which drops the new owner's scope entry here."""
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    store.remove_session("first")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"
    assert store.list_waits_for_user(CTX, USER) == ["second"]


def test_superseded_session_waiting_elsewhere_keeps_the_new_owners_routing(
    store: SessionStore,
) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    wait(store, "first", SCOPE_B)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == "first"
    assert store.list_waits_for_user(CTX, USER) == ["second", "first"]


def test_superseded_session_can_take_its_scope_back(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    wait(store, "first", SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "first"
    assert store.list_waits_for_user(CTX, USER) == ["first"]
    assert store.get_session("second") == data_for(node="node.second")


def test_clear_wait_after_takeover_ends_only_the_new_owner(store: SessionStore) -> None:
    wait(store, "first", SCOPE_A)
    wait(store, "second", SCOPE_A)
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.get_session("second") is None
    assert store.get_session("first") == data_for(node="node.first")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_takeover_of_an_expired_wait(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "first", SCOPE_A, ttl=TTL)
    fake_clock.advance(TTL * 2)
    wait(store, "second", SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"
    assert store.list_waits_for_user(CTX, USER) == ["second"]
    assert store.get_session("first") is None


def test_expiry_of_a_superseded_session_keeps_the_new_owners_routing(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "first", SCOPE_A, ttl=TTL)
    wait(store, "second", SCOPE_A)
    fake_clock.advance(TTL * 2)
    assert store.get_session("first") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "second"
    assert store.list_waits_for_user(CTX, USER) == ["second"]


# -- re-registering ------------------------------------------------------------------------


def test_reregistering_on_a_new_scope_drops_the_old_scope_entry(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    wait(store, "k", SCOPE_B)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == "k"
    assert store.list_waits_for_user(CTX, USER) == ["k"]


def test_clearing_the_old_scope_after_moving_leaves_the_session(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    wait(store, "k", SCOPE_B)
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.get_session("k") is not None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == "k"


def test_reregistering_on_the_same_scope_lists_the_key_once(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    wait(store, "k", SCOPE_A)
    assert store.list_waits_for_user(CTX, USER) == ["k"]


def test_reregistering_replaces_the_data(store: SessionStore) -> None:
    wait(store, "k", data=data_for(node="one"))
    wait(store, "k", data=data_for(node="two"))
    assert store.get_session("k") == data_for(node="two")


# -- removal and rebirth -------------------------------------------------------------------


def test_removing_a_waiting_session_drops_its_wait(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A)
    wait(store, "other", SCOPE_B)
    store.remove_session("k")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == ["other"]


@pytest.mark.parametrize("how", ["removed", "cleared", "expired"])
def test_register_wait_on_an_ended_key_starts_a_new_life(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = ended_session(store, fake_clock, how)
    wait(store, key, SCOPE_B, data=data_for(node="reborn"))
    assert store.get_session(key) == data_for(node="reborn")
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) == key
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == [key]


@pytest.mark.parametrize("how", ["removed", "cleared", "expired"])
def test_a_new_life_may_have_another_context(
    store: SessionStore, fake_clock: FakeClock, how: str
) -> None:
    key = ended_session(store, fake_clock, how)
    bob = make_ctx(team="red", user="bob")
    wait(store, key, SCOPE_A, ctx=bob, user="bob")
    assert store.find_wait_by_scope(bob, "bob", SCOPE_A) == key
    assert store.list_waits_for_user(CTX, USER) == []


def test_reborn_session_can_be_updated_and_removed(store: SessionStore) -> None:
    wait(store, "k")
    store.remove_session("k")
    wait(store, "k")
    store.update_session("k", data_for(node="updated"))
    assert store.get_session("k") == data_for(node="updated")
    store.remove_session("k")
    assert store.get_session("k") is None


def test_reborn_session_does_not_expire_with_the_old_life(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "k", ttl=TTL)
    store.remove_session("k")
    wait(store, "k")
    fake_clock.advance(TTL * 2)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"


# -- TTL and expiry ------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-30)], ids=["zero", "negative"])
def test_zero_or_negative_ttl_is_already_expired(store: SessionStore, ttl: timedelta) -> None:
    wait(store, "k", ttl=ttl)
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == []
    with raises_not_found("k"):
        store.update_session("k", data_for())


def test_zero_ttl_on_a_live_session_ends_it(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    wait(store, key, ttl=timedelta(0))
    assert store.get_session(key) is None


def test_wait_is_live_before_its_deadline(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL - timedelta(seconds=1))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.list_waits_for_user(CTX, USER) == ["k"]
    assert store.get_session("k") == data_for(node="node.k")


def test_wait_is_gone_after_its_deadline(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL + timedelta(seconds=1))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == []
    assert store.get_session("k") is None


def test_wait_is_gone_at_its_deadline(store: SessionStore, fake_clock: FakeClock) -> None:
    """A zero TTL counts as expired, so the deadline instant itself is past."""
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL)
    assert store.get_session("k") is None


def test_expired_wait_is_not_resumed(store: SessionStore, fake_clock: FakeClock) -> None:
    """The Rust crate's case, on a fake clock instead of sleeping."""
    scope = make_scope("webchat:thread-expire")
    wait(store, "wait-expire", scope, ttl=timedelta(milliseconds=30))
    fake_clock.advance(timedelta(milliseconds=60))
    assert store.find_wait_by_scope(CTX, USER, scope) is None
    assert store.list_waits_for_user(CTX, USER) == []


def test_update_session_keeps_the_wait(store: SessionStore) -> None:
    wait(store, "k")
    store.update_session("k", data_for(node="updated"))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert find_by_user(store, CTX, USER) == ("k", data_for(node="updated"))


def test_update_session_keeps_the_expiry(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL / 2)
    store.update_session("k", data_for(node="updated"))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    fake_clock.advance(TTL / 2 + timedelta(seconds=1))
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_clear_wait_of_an_expired_wait_does_not_raise(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL * 2)
    store.clear_wait(CTX, USER, SCOPE_A)
    assert store.get_session("k") is None


def test_register_wait_with_a_new_ttl_moves_the_deadline(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL / 2)
    wait(store, "k", ttl=TTL)
    fake_clock.advance(TTL / 2 + timedelta(seconds=1))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    fake_clock.advance(TTL / 2)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_register_wait_without_ttl_removes_the_expiry(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "k", ttl=TTL)
    wait(store, "k")
    fake_clock.advance(TTL * 2)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"


def test_each_wait_expires_on_its_own_deadline(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "short", SCOPE_A, ttl=TTL)
    wait(store, "long", SCOPE_B, ttl=TTL * 3)
    wait(store, "forever", SCOPE_C)
    fake_clock.advance(TTL * 2)
    assert store.list_waits_for_user(CTX, USER) == ["long", "forever"]
    fake_clock.advance(TTL * 2)
    assert store.list_waits_for_user(CTX, USER) == ["forever"]


def test_expiry_uses_the_real_clock_by_default(store_url: str) -> None:
    with open_store(store_url) as real_time_store:
        wait(real_time_store, "hour", SCOPE_A, ttl=timedelta(hours=1))
        wait(real_time_store, "none", SCOPE_B, ttl=timedelta(0))
        assert real_time_store.find_wait_by_scope(CTX, USER, SCOPE_A) == "hour"
        assert real_time_store.find_wait_by_scope(CTX, USER, SCOPE_B) is None
        assert real_time_store.get_session("none") is None


def test_expiry_is_exact_to_the_microsecond(store: SessionStore, fake_clock: FakeClock) -> None:
    wait(store, "k", ttl=timedelta(microseconds=1500))
    fake_clock.advance(timedelta(microseconds=1499))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    fake_clock.advance(timedelta(microseconds=1))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None


def test_a_huge_ttl_never_fails_with_a_foreign_error(store: SessionStore) -> None:
    """Beyond the calendar, a TTL is either accepted or refused as invalid input."""
    try:
        wait(store, "k", ttl=timedelta.max)
    except SessionError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        assert store.get_session("k") is None
    else:
        assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"


# -- order ---------------------------------------------------------------------------------


SCOPES = [make_scope(f"chat-{n}") for n in range(5)]


def test_waits_are_listed_oldest_registration_first(store: SessionStore) -> None:
    keys = ["k-c", "k-a", "k-e", "k-b", "k-d"]
    for key, scope in zip(keys, SCOPES, strict=True):
        wait(store, key, scope)
    assert store.list_waits_for_user(CTX, USER) == keys


def test_reregistering_moves_a_key_to_the_end(store: SessionStore) -> None:
    for key, scope in zip(["a", "b", "c"], SCOPES[:3], strict=True):
        wait(store, key, scope)
    wait(store, "a", SCOPES[0])
    assert store.list_waits_for_user(CTX, USER) == ["b", "c", "a"]
    wait(store, "b", SCOPES[3])
    assert store.list_waits_for_user(CTX, USER) == ["c", "a", "b"]


def test_update_does_not_change_the_order(store: SessionStore) -> None:
    for key, scope in zip(["a", "b", "c"], SCOPES[:3], strict=True):
        wait(store, key, scope)
    store.update_session("a", data_for(node="touched"))
    assert store.list_waits_for_user(CTX, USER) == ["a", "b", "c"]


def test_order_follows_registration_across_clock_steps(
    store: SessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "late", SCOPES[0])
    fake_clock.advance(timedelta(minutes=1))
    wait(store, "later", SCOPES[1])
    fake_clock.advance(timedelta(minutes=1))
    wait(store, "late", SCOPES[0])
    assert store.list_waits_for_user(CTX, USER) == ["later", "late"]


# -- exact round trips ---------------------------------------------------------------------


PAYLOADS = {
    "non-ascii": '{"greeting":"héllo wörld","jp":"日本語","rtl":"שלום"}',
    "quotes-backslashes": '{"q":"say \\"hi\\"","path":"C:\\\\dir\\\\file","raw":"\'single\'"}',
    "newlines": '{\n  "a": "line1\\nline2",\r\n\t"b": 1\n}\n',
    "emoji": '{"mood":"😀👍🏽👨‍👩‍👧","flag":"🇪🇺"}',
    "not-json": "plain text, not JSON at all { [",
    "key-order-and-spacing": '{ "z" : 1 ,  "a" : [ 1 , 2 ] , "z" : 3 }',
    "nul": 'before\x00after {"n":"\x00"}',
    "empty": "",
    "one-megabyte": '{"blob":"' + ("abcdefghij" * 104_858) + '"}',
    "escapes-as-text": "\\u0000 \\n \\ud83d",
}


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=str)
def test_context_json_round_trips_through_create(store: SessionStore, payload: str) -> None:
    text = PAYLOADS[payload]
    key = store.create_session(CTX, data_for(context_json=text))
    stored = store.get_session(key)
    assert stored is not None
    assert stored.context_json == text


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=str)
def test_context_json_round_trips_through_update(store: SessionStore, payload: str) -> None:
    text = PAYLOADS[payload]
    key = store.create_session(CTX, data_for())
    store.update_session(key, data_for(context_json=text))
    stored = store.get_session(key)
    assert stored is not None
    assert stored.context_json == text


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=str)
def test_context_json_round_trips_through_register_wait(store: SessionStore, payload: str) -> None:
    text = PAYLOADS[payload]
    wait(store, "k", data=data_for(context_json=text))
    found = find_by_user(store, CTX, USER)
    assert found is not None
    assert found[1].context_json == text
    stored = store.get_session("k")
    assert stored is not None
    assert stored.context_json == text


def test_session_data_with_every_field_round_trips(store: SessionStore) -> None:
    ctx = TenantCtx(
        env="prod",
        tenant="Acme-Ltd",
        tenant_id="acme",
        team="support",
        team_id="support-eu",
        user="alice-old",
        user_id=USER,
        session_id="sess-1 😀",
        flow_id="flow.main",
        node_id="node\n7",
        provider_id="telegram",
        trace_id="trace-'\"",
        i18n_id="de-DE",
        correlation_id="corr\\9",
        attributes={"région": "eu-west", "tier": "gold"},
        deadline=InvocationDeadline(unix_millis=1_893_456_000_000),
        attempt=7,
        idempotency_key="idem-1",
        impersonation=Impersonation(actor_id="admin-1", reason="support ticket ✓"),
    )
    data = SessionData(
        tenant_ctx=ctx,
        flow_id="flow.main",
        pack_id="pack.core",
        cursor=SessionCursor(node_pointer="node.7", wait_reason="reply ✓", outbox_marker="out-3"),
        context_json='{"step":3}',
    )
    caller = make_ctx(env="prod", tenant="acme", team="support-eu", user=USER)
    key = store.create_session(caller, data)
    assert store.get_session(key) == data
    wait(store, "waiting", ctx=caller, data=data)
    stored = store.get_session("waiting")
    assert stored == data
    assert stored is not None
    assert stored.model_dump_json() == data.model_dump_json()


def test_nul_characters_in_any_text_field_round_trip(store: SessionStore) -> None:
    """PostgreSQL text cannot hold NUL; the store must still return every character."""
    ctx = CTX.model_copy(update={"attributes": {"k\x00": "v\x00"}, "trace_id": "t\x00"})
    data = SessionData(
        tenant_ctx=ctx,
        flow_id="flow",
        cursor=SessionCursor(node_pointer="node\x00", wait_reason="\x00"),
        context_json="\x00",
    )
    wait(store, "k", ctx=CTX, data=data)
    assert store.get_session("k") == data


def test_optional_fields_stay_unset_after_a_round_trip(store: SessionStore) -> None:
    key = store.create_session(CTX, data_for())
    stored = store.get_session(key)
    assert stored is not None
    assert stored.model_dump_json() == data_for().model_dump_json()


# -- atomicity: after an error nothing was written -----------------------------------------


def test_failing_register_wait_leaves_the_indices_unchanged(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A, data=data_for(node="kept"))
    wait(store, "other", SCOPE_B)
    changed = make_ctx(team="red", user=USER)
    with raises_invalid():
        wait(store, "k", SCOPE_C, ctx=changed, data=data_for(changed))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_C) is None
    assert store.find_wait_by_scope(changed, USER, SCOPE_C) is None
    assert store.list_waits_for_user(CTX, USER) == ["k", "other"]
    assert store.get_session("k") == data_for(node="kept")


def test_failing_register_wait_does_not_take_over_the_scope(store: SessionStore) -> None:
    wait(store, "owner", SCOPE_A)
    with raises_invalid():
        wait(store, "intruder", SCOPE_A, data=data_for(make_ctx()))
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "owner"
    assert store.list_waits_for_user(CTX, USER) == ["owner"]
    assert store.get_session("intruder") is None


def test_register_wait_with_bad_ttl_leaves_the_existing_wait(store: SessionStore) -> None:
    wait(store, "k", SCOPE_A, data=data_for(node="kept"))
    with raises_invalid():
        bad_ttl: Any = 30
        store.register_wait(CTX, USER, SCOPE_B, "k", data_for(node="new"), bad_ttl)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "k"
    assert store.find_wait_by_scope(CTX, USER, SCOPE_B) is None
    assert store.get_session("k") == data_for(node="kept")


def test_failing_register_wait_does_not_revive_an_ended_key(store: SessionStore) -> None:
    wait(store, "k")
    store.remove_session("k")
    with raises_invalid():
        store.register_wait(CTX, "bob", SCOPE_A, "k", data_for())
    assert store.get_session("k") is None
    assert store.list_waits_for_user(CTX, USER) == []


def test_failing_update_keeps_the_wait_and_order(store: SessionStore) -> None:
    wait(store, "a", SCOPE_A, data=data_for(node="kept"))
    wait(store, "b", SCOPE_B)
    with raises_invalid():
        store.update_session("a", data_for(make_ctx(user="bob")))
    assert store.list_waits_for_user(CTX, USER) == ["a", "b"]
    assert store.get_session("a") == data_for(node="kept")


# -- the store object ----------------------------------------------------------------------


def test_a_store_is_a_context_manager(store_url: str) -> None:
    with open_store(store_url) as opened:
        key = opened.create_session(CTX, data_for())
        assert opened.get_session(key) == data_for()


def test_open_store_returns_a_session_store(store: SessionStore) -> None:
    assert isinstance(store, SessionStore)


def test_each_memory_store_is_private() -> None:
    with open_store("memory://") as first, open_store("memory://") as second:
        wait(first, "k")
        assert second.get_session("k") is None
        assert second.find_wait_by_scope(CTX, USER, SCOPE_A) is None


# -- concurrency ---------------------------------------------------------------------------


def test_writes_from_several_threads_all_land(store: SessionStore) -> None:
    """Every operation is atomic; writes on distinct keys from many threads lose nothing."""
    per_thread = 10

    def writer(index: int) -> None:
        for n in range(per_thread):
            key = f"t{index}-{n}"
            wait(store, key, make_scope(f"thread-{index}-{n}"))
            store.update_session(key, data_for(node=f"updated-{key}"))

    assert run_together([partial(writer, i) for i in range(4)]) == []
    listed = store.list_waits_for_user(CTX, USER)
    assert sorted(listed) == sorted(f"t{i}-{n}" for i in range(4) for n in range(per_thread))
    for index in range(4):
        own = [key for key in listed if key.startswith(f"t{index}-")]
        assert own == [f"t{index}-{n}" for n in range(per_thread)]
    assert store.get_session("t3-9") == data_for(node="updated-t3-9")


def test_racing_registrations_on_one_scope_leave_one_owner(store: SessionStore) -> None:
    """Takeover is atomic: however two registrations interleave, one session owns the scope."""
    for round_number in range(8):
        scope = make_scope(f"race-{round_number}")
        keys = [f"r{round_number}-a", f"r{round_number}-b"]
        errors = run_together([partial(wait, store, key, scope) for key in keys])
        assert errors == []
        owner = store.find_wait_by_scope(CTX, USER, scope)
        assert owner in keys
        assert [key for key in store.list_waits_for_user(CTX, USER) if key in keys] == [owner]


def test_racing_writes_on_one_key_fail_only_with_session_errors(store: SessionStore) -> None:
    """Concurrent writes to one session either land or fail as a SessionError (`conflict`)."""
    key = store.create_session(CTX, data_for(node="start"))
    errors = run_together(
        [partial(store.update_session, key, data_for(node=f"write-{n}")) for n in range(4)]
    )
    assert all(isinstance(error, SessionError) for error in errors), errors
    assert all(
        error.code is ErrorCode.CONFLICT for error in errors if isinstance(error, SessionError)
    )
    stored = store.get_session(key)
    assert stored is not None
    assert stored.cursor.node_pointer in {f"write-{n}" for n in range(4)}


def test_a_closed_store_refuses_calls_as_unavailable(store: SessionStore) -> None:
    store.close()
    with pytest.raises(SessionError) as caught:
        store.get_session("any-key")
    assert caught.value.code is ErrorCode.UNAVAILABLE
