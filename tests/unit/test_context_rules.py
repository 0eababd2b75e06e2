"""The context rules: alignment, preservation and the waiting user (no store involved)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greentic_session import ErrorCode, SessionError, TenantCtx, UserId
from greentic_session.domain.rules import ensure_alignment, ensure_preserved, ensure_wait_user
from tests.support import make_ctx, make_data


def rule_error(call: Any, *args: Any) -> SessionError:
    with pytest.raises(SessionError) as error:
        call(*args)
    assert error.value.code is ErrorCode.INVALID_INPUT
    return error.value


def test_alignment_message_names_expected_and_given_context_with_users_as_presence() -> None:
    stored = make_ctx(env="dev", tenant="acme", team="red", user="alice")
    caller = make_ctx(env="prod", tenant="other", user="bob")
    error = rule_error(ensure_alignment, caller, make_data(stored))
    assert error.message == (
        "tenant context mismatch (env/tenant must match): "
        "expected env=dev, tenant=acme, team=red, user=present, "
        "got env=prod, tenant=other, team=-, user=present"
    )


def test_mismatch_message_is_the_rust_crates_text_for_another_user() -> None:
    """The issue's example, byte for byte."""
    stored = make_ctx(env="dev", tenant="acme", user="alice")
    caller = make_ctx(env="dev", tenant="acme", user="bob")
    error = rule_error(ensure_alignment, caller, make_data(stored))
    assert error.message == (
        "tenant context mismatch (user must match stored session): "
        "expected env=dev, tenant=acme, team=-, user=present, "
        "got env=dev, tenant=acme, team=-, user=present"
    )


def test_mismatch_message_says_missing_for_a_context_without_user() -> None:
    stored = make_ctx(env="dev", tenant="acme", team="red", user="alice")
    caller = make_ctx(env="dev", tenant="acme", team="red")
    error = rule_error(ensure_alignment, caller, make_data(stored))
    assert error.message == (
        "tenant context mismatch (user required by session but missing in caller context): "
        "expected env=dev, tenant=acme, team=red, user=present, "
        "got env=dev, tenant=acme, team=red, user=missing"
    )


def test_preservation_message_says_missing_for_the_stored_context_without_user() -> None:
    stored, candidate = make_ctx(team="red"), make_ctx(team="red", user="alice")
    error = rule_error(ensure_preserved, stored, candidate)
    assert error.message == (
        "tenant context mismatch (user cannot be introduced when none was stored): "
        f"expected env={stored.env}, tenant={stored.tenant_id}, team=red, user=missing, "
        f"got env={stored.env}, tenant={stored.tenant_id}, team=red, user=present"
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


SECRET_USER = st.from_regex(r"user-[A-Za-z0-9]{16}", fullmatch=True)
"""A user id no other part of a message can contain by chance."""
CONTEXT_SHAPES = st.fixed_dictionaries(
    {"env": st.sampled_from(["dev", "prod"]), "tenant": st.sampled_from(["acme", "other"])},
    optional={"team": st.sampled_from(["red", "blue"])},
)


def shaped(shape: dict[str, str], user: str | None) -> TenantCtx:
    return make_ctx(**shape).with_user(user)


@settings(max_examples=150, deadline=None)
@given(
    stored_shape=CONTEXT_SHAPES,
    caller_shape=CONTEXT_SHAPES,
    stored_user=SECRET_USER,
    caller_user=st.one_of(st.none(), SECRET_USER),
)
def test_a_mismatch_message_never_contains_the_stored_users_id(
    stored_shape: dict[str, str],
    caller_shape: dict[str, str],
    stored_user: str,
    caller_user: str | None,
) -> None:
    stored = shaped(stored_shape, stored_user)
    caller = shaped(caller_shape, caller_user)
    messages = []
    checks: list[Callable[[], None]] = [
        lambda: ensure_alignment(caller, make_data(stored)),
        lambda: ensure_preserved(stored, caller),
    ]
    for check in checks:
        try:
            check()
        except SessionError as error:
            messages.append(error.message)
    for message in messages:
        assert stored_user not in message
        assert caller_user is None or caller_user not in message


@settings(max_examples=150, deadline=None)
@given(
    stored_shape=CONTEXT_SHAPES,
    caller_shape=CONTEXT_SHAPES,
    users=st.lists(SECRET_USER, min_size=4, max_size=4, unique=True),
)
def test_a_mismatch_message_depends_on_the_users_presence_only(
    stored_shape: dict[str, str], caller_shape: dict[str, str], users: list[str]
) -> None:
    """Two users each, swapped for two others: the same refusal, word for word."""

    def message(stored_user: str, caller_user: str) -> str | None:
        try:
            ensure_alignment(
                shaped(caller_shape, caller_user), make_data(shaped(stored_shape, stored_user))
            )
        except SessionError as error:
            return error.message
        return None

    first, second = message(users[0], users[1]), message(users[2], users[3])
    assert first == second
    assert first is not None  # different users never align
