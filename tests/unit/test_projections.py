"""Unit tests of the projections: how a session's state changes the read models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from greentic_session import ReplyScope, SessionKey
from greentic_session.domain.state import SessionState, Wait
from greentic_session.projections.changes import (
    AddUserWait,
    Change,
    ClaimScope,
    DropUserWait,
    PutState,
    ReleaseScope,
    in_apply_order,
)
from greentic_session.projections.projector import changes_for
from greentic_session.projections.read_models import MemoryReadModels, ScopeTaken, WaitEntry
from tests.support import make_ctx, make_data

KEY = SessionKey("k1")
DATA = make_data(make_ctx(user="alice"))
LATER = datetime(2030, 1, 1, tzinfo=UTC)


def wait_at(conversation: str) -> Wait:
    return Wait(
        user_key="user-key",
        scope_key=f"scope-{conversation}",
        user_id="alice",
        scope=ReplyScope(conversation=conversation),
        version=2,
    )


def state(version: int, wait: Wait | None = None, live: bool = True) -> SessionState:
    return SessionState(KEY, version, DATA if live else None, LATER if wait else None, wait)


def test_an_update_changes_only_the_state_row() -> None:
    after = state(2, wait_at("a"))
    assert changes_for(state(1, wait_at("a")), after, registered=False) == [PutState(after)]


def test_a_first_wait_claims_its_scope_and_joins_the_users_waits() -> None:
    after = state(2, wait_at("a"))
    assert changes_for(state(1), after, registered=True) == [
        ClaimScope("scope-a", KEY, LATER),
        AddUserWait("user-key", KEY, LATER, 2),
        PutState(after),
    ]


def test_a_wait_on_a_new_scope_releases_the_old_one() -> None:
    changes = changes_for(state(1, wait_at("a")), state(2, wait_at("b")), registered=True)
    assert changes[:3] == [
        ReleaseScope("scope-a", KEY),
        ClaimScope("scope-b", KEY, LATER),
        AddUserWait("user-key", KEY, LATER, 2),
    ]


def test_a_wait_that_ends_leaves_the_users_waits() -> None:
    changes = changes_for(state(1, wait_at("a")), state(2, live=False), registered=False)
    assert DropUserWait("user-key", KEY) in changes


def test_registering_the_same_scope_again_reclaims_it() -> None:
    changes = changes_for(state(1, wait_at("a")), state(2, wait_at("a")), registered=True)
    assert ReleaseScope("scope-a", KEY) in changes
    assert ClaimScope("scope-a", KEY, LATER) in changes


def test_an_ended_session_leaves_every_index_and_keeps_a_tombstone() -> None:
    after = state(3, live=False)
    assert changes_for(state(2, wait_at("a")), after, registered=False) == [
        ReleaseScope("scope-a", KEY),
        DropUserWait("user-key", KEY),
        PutState(after),
    ]


def test_state_rows_come_first_then_releases_then_claims() -> None:
    """State first: a PostgreSQL rebuild locks the state table, and a write must wait for
    it before it holds any other read-model row. Releases before claims: a takeover."""
    claim = ClaimScope("scope-a", SessionKey("new"), None)
    release = ReleaseScope("scope-a", KEY)
    assert in_apply_order([claim, PutState(state(1)), release]) == [
        PutState(state(1)),
        release,
        claim,
    ]


def test_a_claim_on_a_scope_held_by_another_session_is_refused() -> None:
    models = MemoryReadModels()
    models.apply([ClaimScope("scope-a", KEY, None)])
    with pytest.raises(ScopeTaken):
        models.check([ClaimScope("scope-a", SessionKey("other"), None)])


def test_a_takeover_that_releases_the_holder_first_is_accepted() -> None:
    models = MemoryReadModels()
    models.apply([ClaimScope("scope-a", KEY, None)])
    takeover: list[Change] = [
        ReleaseScope("scope-a", KEY),
        ClaimScope("scope-a", SessionKey("other"), None),
    ]
    models.check(takeover)
    models.apply(takeover)
    assert models.scope_entry("scope-a") == WaitEntry("other", None)


def test_a_release_leaves_a_scope_that_another_session_holds() -> None:
    models = MemoryReadModels()
    models.apply([ClaimScope("scope-a", SessionKey("other"), None)])
    models.apply([ReleaseScope("scope-a", KEY)])
    assert models.scope_entry("scope-a") == WaitEntry("other", None)


def test_user_waits_are_listed_in_order_of_latest_registration() -> None:
    models = MemoryReadModels()
    for key in ("a", "b", "a"):
        models.apply([AddUserWait("user-key", key, None, 1)])
    assert [w.session_key for w in models.user_waits("user-key")] == ["b", "a"]
