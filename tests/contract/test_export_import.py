"""The audit tools on every backend: history, time travel, diff, explain, sweep, rebuild,
export and import.

The store reads time from `fake_clock`; tests move it to travel in time and to let TTLs
pass. Edits made behind the store's back are in `test_tamper.py`.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonpatch
import pytest

from greentic_session import (
    AuditedSessionStore,
    ErrorCode,
    EventType,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionEvent,
    SessionKey,
    TenantCtx,
    UserId,
)
from greentic_session.domain.rules import scope_key, user_key
from tests.conftest import Databases, open_store
from tests.support import FakeClock, make_ctx, make_data, make_scope, raises_code

USER = "alice"
CTX = make_ctx(user=USER)
SCOPE = make_scope("chat-1")
OTHER_SCOPE = make_scope("chat-2")
STEP = timedelta(minutes=1)
TTL = timedelta(minutes=5)


def data(node: str, context_json: str = "{}", ctx: TenantCtx = CTX) -> SessionData:
    return make_data(ctx, node=node, context_json=context_json)


def later(clock: FakeClock, delta: timedelta = STEP) -> datetime:
    """Move the clock on and return the new instant."""
    clock.advance(delta)
    return clock.now


def wait(
    store: AuditedSessionStore,
    key: str,
    node: str,
    *,
    scope: ReplyScope = SCOPE,
    ctx: TenantCtx = CTX,
    user: str = USER,
    ttl: timedelta | None = None,
) -> None:
    store.register_wait(ctx, user, scope, key, data(node, ctx=ctx), ttl)


def raises_invalid() -> AbstractContextManager[None]:
    return raises_code(ErrorCode.INVALID_INPUT)


def without_position(events: list[SessionEvent]) -> list[dict[str, Any]]:
    return [event.model_dump(exclude={"position"}) for event in events]


def exported(store: AuditedSessionStore, tenant: str | None = None) -> str:
    buffer = io.StringIO()
    count = store.export_events(buffer, tenant=tenant)
    text = buffer.getvalue()
    assert count == len(text.splitlines())
    return text


def populate(store: AuditedSessionStore, clock: FakeClock) -> list[SessionKey]:
    """A store with something of everything: updates, a supersession, a cleared wait, a
    removal, a recorded expiry, a second life, a pending deadline, a plain-text context."""
    traced = CTX.model_copy(update={"trace_id": "t-1", "correlation_id": "c-1"})
    first = store.create_session(traced, data("first.1", '{"step": 1}'))
    later(clock)
    store.update_session(first, data("first.2", '{"step": 2}'))
    wait(store, first, "first.3", ttl=TTL)
    later(clock)
    wait(store, "second", "second.1")  # supersedes first
    later(clock)
    wait(store, "third", "third.1", scope=OTHER_SCOPE, ttl=timedelta(seconds=30))
    later(clock)
    assert store.sweep_expired() == 1  # third expires
    wait(store, "third", "third.2", scope=OTHER_SCOPE, ttl=TTL)  # its second life
    later(clock)
    plain = store.create_session(CTX, data("plain.1", "not json"))
    gone = store.create_session(CTX, data("gone.1"))
    store.remove_session(gone)
    store.clear_wait(CTX, USER, SCOPE)  # second ends
    return [first, SessionKey("second"), SessionKey("third"), plain, gone]


# -- history -------------------------------------------------------------------------------


def test_history_lists_every_event_across_lives_oldest_first(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    start = fake_clock.now
    key = store.create_session(CTX, data("n1"))
    later(fake_clock)
    store.update_session(key, data("n2"))
    later(fake_clock)
    wait(store, key, "n3")
    later(fake_clock)
    store.clear_wait(CTX, USER, SCOPE)  # the first life ends
    later(fake_clock)
    wait(store, key, "n5")  # a second life: created again, then waiting
    later(fake_clock)
    store.remove_session(key)

    history = store.history(key)

    assert [event.type for event in history] == [
        EventType.CREATED,
        EventType.UPDATED,
        EventType.WAIT_REGISTERED,
        EventType.WAIT_CLEARED,
        EventType.CREATED,
        EventType.WAIT_REGISTERED,
        EventType.REMOVED,
    ]
    assert [event.version for event in history] == [1, 2, 3, 4, 5, 6, 7]
    assert {event.session_key for event in history} == {key}
    nodes = [None if e.data is None else e.data.cursor.node_pointer for e in history]
    assert nodes == ["n1", "n2", "n3", None, "n5", "n5", None]
    minutes = [0, 1, 2, 3, 4, 4, 5]
    assert [event.recorded_at for event in history] == [start + m * STEP for m in minutes]
    assert all(event.recorded_at.utcoffset() == timedelta(0) for event in history)
    positions = [event.position for event in history]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_history_positions_are_places_in_the_global_log(store: AuditedSessionStore) -> None:
    first = store.create_session(CTX, data("a.1"))
    second = store.create_session(CTX, data("b.1"))
    store.update_session(first, data("a.2"))

    (a1, a2), (b1,) = store.history(first), store.history(second)

    assert a1.position < b1.position < a2.position


def test_history_of_a_wait_names_its_scope_user_and_deadline(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", ttl=TTL)
    store.clear_wait(CTX, USER, SCOPE)

    created, registered, cleared = store.history(key)

    assert (created.scope, created.user_id, created.expires_at) == (None, None, None)
    assert registered.scope == SCOPE
    assert registered.user_id == USER
    assert registered.expires_at == fake_clock.now + TTL
    assert (cleared.scope, cleared.user_id) == (SCOPE, USER)
    assert cleared.data is None


def test_history_records_the_callers_trace_ids(store: AuditedSessionStore) -> None:
    traced = CTX.model_copy(
        update={"trace_id": "t-1", "correlation_id": "c-1", "provider_id": "p-1"}
    )
    key = store.create_session(traced, data("n1"))  # the data's context has no trace ids
    wait(store, key, "n2", ctx=CTX.model_copy(update={"trace_id": "t-2"}))
    store.remove_session(key)  # no caller context at all

    created, registered, removed = store.history(key)

    assert (created.trace_id, created.correlation_id, created.provider_id) == ("t-1", "c-1", "p-1")
    assert created.actor == USER
    assert (registered.trace_id, registered.correlation_id, registered.provider_id) == (
        "t-2",
        None,
        None,
    )
    assert (removed.trace_id, removed.correlation_id, removed.provider_id) == (None, None, None)


def test_history_chains_each_event_to_the_one_before(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1"))
    store.update_session(key, data("n2"))
    wait(store, key, "n3")

    history = store.history(key)

    assert history[0].prev_hash == ""
    assert [e.prev_hash for e in history[1:]] == [e.hash for e in history[:-1]]
    assert len({e.hash for e in history}) == len(history)
    assert all(len(e.hash) == 64 and int(e.hash, 16) >= 0 for e in history)


def test_history_names_the_session_that_superseded_a_wait(store: AuditedSessionStore) -> None:
    first = store.create_session(CTX, data("first.1"))
    wait(store, first, "first.2")
    wait(store, "second", "second.1")

    superseded = store.history(first)[-1]

    assert superseded.type is EventType.WAIT_SUPERSEDED
    assert superseded.superseded_by == "second"
    assert superseded.scope == SCOPE
    assert superseded.data == data("first.2")  # its data stays readable


def test_history_of_an_unknown_key_is_empty(store: AuditedSessionStore) -> None:
    assert store.history("never-created") == []


def test_history_of_an_empty_key_is_invalid_input(store: AuditedSessionStore) -> None:
    with raises_invalid():
        store.history("")


# -- get_session_at ------------------------------------------------------------------------


def test_get_session_at_version_is_the_session_after_that_version(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data("n1", '{"step": 1}'))
    store.update_session(key, data("n2", '{"step": 2}'))
    wait(store, key, "n3")

    assert store.get_session_at(key, version=1) == data("n1", '{"step": 1}')
    assert store.get_session_at(key, version=2) == data("n2", '{"step": 2}')
    assert store.get_session_at(key, version=3) == data("n3")


def test_get_session_at_a_version_where_the_life_had_ended_is_none(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    store.clear_wait(CTX, USER, SCOPE)  # v3
    wait(store, key, "n4")  # v4 created again, v5 waiting

    assert store.get_session_at(key, version=3) is None
    assert store.get_session_at(key, version=4) == data("n4")


def test_get_session_at_an_instant_is_the_session_live_then(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    created = fake_clock.now
    key = store.create_session(CTX, data("n1"))
    updated = later(fake_clock)
    store.update_session(key, data("n2"))
    later(fake_clock)

    assert store.get_session_at(key, at=created) == data("n1")
    assert store.get_session_at(key, at=created + STEP / 2) == data("n1")
    assert store.get_session_at(key, at=updated) == data("n2")


def test_get_session_at_an_instant_before_creation_is_none(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))

    assert store.get_session_at(key, at=fake_clock.now - timedelta(microseconds=1)) is None


def test_get_session_at_an_instant_past_the_deadline_is_none(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    """The expiry is not in the log yet (no write met it): the deadline alone decides."""
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", ttl=TTL)
    deadline = fake_clock.now + TTL
    later(fake_clock, 2 * TTL)

    assert store.get_session_at(key, at=deadline - timedelta(microseconds=1)) == data("n2")
    assert store.get_session_at(key, at=deadline) is None


def test_get_session_at_an_instant_after_removal_is_none(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    removed = later(fake_clock)
    store.remove_session(key)

    assert store.get_session_at(key, at=removed - timedelta(microseconds=1)) == data("n1")
    assert store.get_session_at(key, at=removed) is None


def test_get_session_at_an_instant_between_two_lives_is_none(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    cleared = later(fake_clock)
    store.clear_wait(CTX, USER, SCOPE)
    again = later(fake_clock)
    wait(store, key, "n3")

    assert store.get_session_at(key, at=cleared) is None
    assert store.get_session_at(key, at=again) == data("n3")


def test_get_session_at_defaults_to_now(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1"))
    store.update_session(key, data("n2"))

    assert store.get_session_at(key) == store.get_session(key) == data("n2")


def test_get_session_at_with_both_version_and_instant_is_invalid_input(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))

    with raises_invalid():
        store.get_session_at(key, version=1, at=fake_clock.now)


def test_get_session_at_a_naive_datetime_is_invalid_input(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))

    with raises_invalid():
        store.get_session_at(key, at=fake_clock.now.replace(tzinfo=None))


@pytest.mark.parametrize("version", [0, -1, 3])
def test_get_session_at_a_version_out_of_range_is_invalid_input(
    store: AuditedSessionStore, version: int
) -> None:
    key = store.create_session(CTX, data("n1"))
    store.update_session(key, data("n2"))

    with raises_invalid():
        store.get_session_at(key, version=version)


def test_get_session_at_a_version_of_a_key_without_history_is_invalid_input(
    store: AuditedSessionStore,
) -> None:
    with raises_invalid():
        store.get_session_at("never-created", version=1)


@pytest.mark.parametrize("version", ["1", True, 1.0])
def test_get_session_at_a_version_that_is_not_an_int_is_invalid_input(
    store: AuditedSessionStore, version: Any
) -> None:
    key = store.create_session(CTX, data("n1"))

    with raises_invalid():
        store.get_session_at(key, version=version)


def test_get_session_at_an_instant_that_is_not_a_datetime_is_invalid_input(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data("n1"))
    instant: Any = "2030-01-01T12:00:00+00:00"

    with raises_invalid():
        store.get_session_at(key, at=instant)


# -- diff ----------------------------------------------------------------------------------


def test_diff_lists_the_changed_cursor_fields_and_a_json_patch_of_the_context(
    store: AuditedSessionStore,
) -> None:
    before = data("ask", '{"step": 1, "items": ["a"], "old": true}')
    after = before.model_copy(
        update={
            "cursor": SessionCursor(node_pointer="confirm", wait_reason="reply", outbox_marker="m"),
            "context_json": '{"step": 2, "items": ["a", "b"]}',
        }
    )
    key = store.create_session(CTX, before)
    store.update_session(key, after)

    diff = store.diff(key, 1, 2)

    assert (diff.session_key, diff.from_version, diff.to_version) == (key, 1, 2)
    assert {(c.field, c.before, c.after) for c in diff.changes} == {
        ("cursor.node_pointer", "ask", "confirm"),
        ("cursor.wait_reason", None, "reply"),
        ("cursor.outbox_marker", None, "m"),
    }
    assert diff.context_patch is not None
    assert diff.context_diff is None
    assert jsonpatch.apply_patch(json.loads(before.context_json), diff.context_patch) == (
        json.loads(after.context_json)
    )
    assert all({"op", "path"} <= op.keys() for op in diff.context_patch)


def test_diff_lists_flow_and_pack_changes(store: AuditedSessionStore) -> None:
    before = data("n1")
    key = store.create_session(CTX, before)
    store.update_session(key, before.model_copy(update={"flow_id": "flow-beta", "pack_id": "p-1"}))

    changes = {c.field: (c.before, c.after) for c in store.diff(key, 1, 2).changes}

    assert changes == {"flow_id": ("flow-alpha", "flow-beta"), "pack_id": (None, "p-1")}


def test_diff_of_a_plain_text_context_is_a_unified_text_diff(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1", "line one\nline two"))
    store.update_session(key, data("n1", "line one\nline 2"))

    diff = store.diff(key, 1, 2)

    assert diff.context_patch is None
    assert diff.context_diff is not None
    assert "-line two" in diff.context_diff.splitlines()
    assert "+line 2" in diff.context_diff.splitlines()
    assert diff.changes == []


def test_diff_from_json_to_plain_text_is_a_text_diff(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1", '{"a": 1}'))
    store.update_session(key, data("n1", "plain"))

    diff = store.diff(key, 1, 2)

    assert diff.context_patch is None
    assert diff.context_diff is not None and "+plain" in diff.context_diff


def test_diff_shows_the_wait_and_deadline_registered_between_versions(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n1", ttl=TTL)

    changes = {c.field: (c.before, c.after) for c in store.diff(key, 1, 2).changes}

    assert changes == {
        "wait.scope": (None, SCOPE.model_dump(mode="json")),
        "wait.user_id": (None, USER),
        "expires_at": (None, (fake_clock.now + TTL).isoformat()),
    }


def test_diff_to_an_ended_life_shows_the_session_gone(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1", '{"a": 1}'))
    store.remove_session(key)

    diff = store.diff(key, 1, 2)

    changes = {c.field: (c.before, c.after) for c in diff.changes}
    assert changes["live"] == (True, False)
    assert changes["cursor.node_pointer"] == ("n1", None)


def test_diff_of_a_version_with_itself_is_empty(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1"))
    store.update_session(key, data("n2", '{"x": 1}'))

    diff = store.diff(key, 2, 2)

    assert (diff.changes, diff.context_patch, diff.context_diff) == ([], None, None)


def test_diff_with_a_version_the_session_does_not_have_is_invalid_input(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data("n1"))
    store.update_session(key, data("n2"))

    with raises_invalid():
        store.diff(key, 1, 3)
    with raises_invalid():
        store.diff(key, 0, 1)
    with raises_invalid():
        store.diff("never-created", 1, 2)


# -- explain -------------------------------------------------------------------------------


def test_explain_names_the_waiting_session_and_its_lookup_keys(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key == key == store.find_wait_by_scope(CTX, USER, SCOPE)
    assert explanation.at == fake_clock.now
    assert explanation.user_key == user_key(CTX, UserId(USER))
    assert explanation.scope_key == scope_key(CTX, UserId(USER), SCOPE)
    assert explanation.scope_hash == SCOPE.scope_hash()
    assert key in explanation.reason
    assert len(explanation.trail) == 1 and "registered" in explanation.trail[0]


def test_explain_says_a_scope_was_never_registered(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", scope=OTHER_SCOPE)

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key is None
    assert "never registered" in explanation.reason
    assert explanation.trail == []


def test_explain_says_which_session_superseded_the_wait(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    first = store.create_session(CTX, data("first.1"))
    wait(store, first, "first.2")
    taken = later(fake_clock)
    wait(store, "second", "second.1")

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key == "second"
    assert first in explanation.reason
    assert "superseded by second" in explanation.reason
    assert taken.isoformat() in explanation.reason


def test_explain_says_when_the_wait_was_cleared(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    cleared = later(fake_clock)
    store.clear_wait(CTX, USER, SCOPE)
    later(fake_clock)

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key is None
    assert "cleared" in explanation.reason
    assert key in explanation.reason and cleared.isoformat() in explanation.reason


def test_explain_says_when_the_wait_expired(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    """No write has met the expiry yet: the deadline alone ends the wait."""
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", ttl=TTL)
    deadline = fake_clock.now + TTL
    later(fake_clock, 2 * TTL)

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key is None is store.find_wait_by_scope(CTX, USER, SCOPE)
    assert "expired" in explanation.reason
    assert key in explanation.reason and deadline.isoformat() in explanation.reason


def test_explain_says_when_a_recorded_expiry_ended_the_wait(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", ttl=TTL)
    deadline = fake_clock.now + TTL
    later(fake_clock, 2 * TTL)
    assert store.sweep_expired() == 1

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key is None
    assert "expired" in explanation.reason
    assert key in explanation.reason and deadline.isoformat() in explanation.reason


def test_explain_says_when_the_session_was_removed(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    removed = later(fake_clock)
    store.remove_session(key)

    explanation = store.explain(CTX, USER, SCOPE)

    assert explanation.session_key is None
    assert "removed" in explanation.reason
    assert key in explanation.reason and removed.isoformat() in explanation.reason


def test_explain_says_the_wait_is_stored_under_another_team(store: AuditedSessionStore) -> None:
    support = make_ctx(team="support", user=USER)
    key = store.create_session(support, data("n1", ctx=support))
    wait(store, key, "n2", ctx=support)
    sales = make_ctx(team="sales", user=USER)

    explanation = store.explain(sales, USER, SCOPE)

    assert explanation.session_key is None is store.find_wait_by_scope(sales, USER, SCOPE)
    assert "differ" in explanation.reason
    assert key in explanation.reason and "team=support" in explanation.reason


def test_explain_says_the_wait_is_stored_under_another_user(store: AuditedSessionStore) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    bob = make_ctx(user="bob")

    explanation = store.explain(bob, "bob", SCOPE)

    assert explanation.session_key is None
    assert "differ" in explanation.reason
    assert key in explanation.reason and f"user={USER}" in explanation.reason


def test_explain_answers_for_a_past_instant(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    start = fake_clock.now
    first = store.create_session(CTX, data("first.1"))
    registered = later(fake_clock)
    wait(store, first, "first.2")
    cleared = later(fake_clock)
    store.clear_wait(CTX, USER, SCOPE)
    taken = later(fake_clock)
    wait(store, "second", "second.1")

    def found(at: datetime) -> SessionKey | None:
        return store.explain(CTX, USER, SCOPE, at=at).session_key

    assert found(start) is None
    assert found(registered) == first
    assert found(cleared - timedelta(microseconds=1)) == first
    assert found(cleared) is None
    assert found(taken) == "second"
    assert "never registered" in store.explain(CTX, USER, SCOPE, at=start).reason
    assert "cleared" in store.explain(CTX, USER, SCOPE, at=cleared).reason


def test_explain_at_a_past_instant_leaves_later_events_out_of_the_trail(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2")
    registered = fake_clock.now
    later(fake_clock)
    store.clear_wait(CTX, USER, SCOPE)

    assert len(store.explain(CTX, USER, SCOPE).trail) == 2
    assert len(store.explain(CTX, USER, SCOPE, at=registered).trail) == 1


def test_explain_at_a_past_instant_sees_a_deadline_that_had_passed(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("n1"))
    wait(store, key, "n2", ttl=TTL)
    deadline = fake_clock.now + TTL
    later(fake_clock, 3 * TTL)
    store.clear_wait(CTX, USER, SCOPE)  # meets the expiry and records it

    assert store.explain(CTX, USER, SCOPE, at=deadline - STEP).session_key == key
    assert store.explain(CTX, USER, SCOPE, at=deadline).session_key is None
    assert "expired" in store.explain(CTX, USER, SCOPE, at=deadline).reason


def test_explain_at_a_naive_datetime_is_invalid_input(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    with raises_invalid():
        store.explain(CTX, USER, SCOPE, at=fake_clock.now.replace(tzinfo=None))


# -- sweep_expired -------------------------------------------------------------------------


def test_sweep_records_an_expiry_for_each_session_past_its_deadline(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "short", "n1", ttl=timedelta(minutes=1))
    wait(store, "medium", "n1", scope=OTHER_SCOPE, ttl=timedelta(minutes=2))
    wait(store, "long", "n1", scope=make_scope("chat-3"), ttl=timedelta(hours=1))
    store.create_session(CTX, data("no-deadline"))
    swept = later(fake_clock, timedelta(minutes=5))

    assert store.sweep_expired() == 2

    for key, ttl in (("short", timedelta(minutes=1)), ("medium", timedelta(minutes=2))):
        expired = store.history(key)[-1]
        assert expired.type is EventType.WAIT_EXPIRED
        assert expired.recorded_at == swept
        assert expired.expires_at == swept - timedelta(minutes=5) + ttl
        assert expired.data is None
    assert store.history("long")[-1].type is EventType.WAIT_REGISTERED
    assert store.list_waits_for_user(CTX, USER) == ["long"]
    assert store.verify().ok


def test_a_second_sweep_returns_zero(store: AuditedSessionStore, fake_clock: FakeClock) -> None:
    wait(store, "short", "n1", ttl=timedelta(minutes=1))
    later(fake_clock, timedelta(minutes=5))
    assert store.sweep_expired() == 1

    assert store.sweep_expired() == 0
    assert [e.type for e in store.history("short")].count(EventType.WAIT_EXPIRED) == 1


def test_sweep_skips_an_expiry_a_write_already_recorded(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "short", "n1", ttl=timedelta(minutes=1))
    later(fake_clock, timedelta(minutes=5))
    with raises_code(ErrorCode.NOT_FOUND):
        store.update_session("short", data("n2"))  # meets the expiry and records it

    assert store.sweep_expired() == 0
    assert [e.type for e in store.history("short")].count(EventType.WAIT_EXPIRED) == 1


def test_sweep_at_a_past_instant_expires_only_what_was_due_then(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    start = fake_clock.now
    wait(store, "short", "n1", ttl=timedelta(minutes=1))
    wait(store, "medium", "n1", scope=OTHER_SCOPE, ttl=timedelta(minutes=10))
    later(fake_clock, timedelta(minutes=20))

    assert store.sweep_expired(now=start + timedelta(minutes=5)) == 1
    assert store.history("short")[-1].recorded_at == start + timedelta(minutes=5)
    assert store.history("medium")[-1].type is EventType.WAIT_REGISTERED
    assert store.sweep_expired() == 1


def test_sweep_with_nothing_due_returns_zero(store: AuditedSessionStore) -> None:
    wait(store, "long", "n1", ttl=timedelta(hours=1))
    store.create_session(CTX, data("no-deadline"))

    assert store.sweep_expired() == 0


def test_sweep_at_an_instant_later_than_the_clock_is_invalid_input(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    with raises_invalid():
        store.sweep_expired(now=fake_clock.now + STEP)


def test_sweep_at_a_naive_datetime_is_invalid_input(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    with raises_invalid():
        store.sweep_expired(now=fake_clock.now.replace(tzinfo=None))


# -- rebuild_projections -------------------------------------------------------------------


def test_rebuild_projections_gives_the_same_answers_and_verify_is_clean(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    keys = populate(store, fake_clock)

    def answers() -> list[object]:
        return [
            [store.get_session(key) for key in keys],
            store.find_wait_by_scope(CTX, USER, SCOPE),
            store.find_wait_by_scope(CTX, USER, OTHER_SCOPE),
            store.list_waits_for_user(CTX, USER),
        ]

    before = answers()
    assert store.verify().ok

    store.rebuild_projections()

    assert answers() == before
    report = store.verify()
    assert report.ok, report.problems


def test_rebuild_keeps_the_order_of_a_users_waits(store: AuditedSessionStore) -> None:
    scopes = [make_scope(f"chat-{n}") for n in range(3)]
    for n, scope in enumerate(scopes):
        wait(store, f"s{n}", "n1", scope=scope)
    wait(store, "s0", "n2", scope=scopes[0])  # registered again: now the latest
    assert store.list_waits_for_user(CTX, USER) == ["s1", "s2", "s0"]

    store.rebuild_projections()

    assert store.list_waits_for_user(CTX, USER) == ["s1", "s2", "s0"]


def test_readers_never_see_a_missing_session_while_projections_rebuild(
    store: AuditedSessionStore,
) -> None:
    scopes = [make_scope(f"chat-{n}") for n in range(10)]
    keys = [f"s{n}" for n in range(10)]
    for key, scope in zip(keys, scopes, strict=True):
        wait(store, key, "n1", scope=scope)
    stop, started = threading.Event(), threading.Event()
    misses: list[str] = []
    errors: list[BaseException] = []
    passes = [0]

    def read() -> None:
        try:
            while not stop.is_set():
                for key, scope in zip(keys, scopes, strict=True):
                    if store.get_session(key) is None:
                        misses.append(f"get_session({key})")
                    if store.find_wait_by_scope(CTX, USER, scope) != key:
                        misses.append(f"find_wait_by_scope for {key}")
                if store.list_waits_for_user(CTX, USER) != keys:
                    misses.append("list_waits_for_user")
                passes[0] += 1
                started.set()
        except BaseException as exc:
            errors.append(exc)
            started.set()

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        assert started.wait(10)
        before = passes[0]
        for _ in range(5):
            store.rebuild_projections()
        stop.wait(0.05)
        during = passes[0] - before
    finally:
        stop.set()
        for reader in readers:
            reader.join()

    assert errors == []
    assert misses == []
    assert during > 0
    assert store.verify().ok


def test_rebuild_while_others_write_loses_no_write(store: AuditedSessionStore) -> None:
    """Writes that race a rebuild wait for it, and the read models still equal a replay."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        round_ = 0
        try:
            while not stop.is_set():
                scope = make_scope(f"chat-{writer}-{round_ % 3}")
                wait(store, f"w{writer}-{round_ % 4}", "n1", scope=scope)
                store.clear_wait(CTX, USER, make_scope(f"chat-{writer}-{(round_ + 1) % 3}"))
                round_ += 1
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for writer in writers:
        writer.start()
    try:
        for _ in range(10):
            store.rebuild_projections()
    finally:
        stop.set()
        for writer in writers:
            writer.join()

    assert errors == []
    report = store.verify()
    assert report.ok, report.problems


def test_one_users_waits_registered_at_once_are_listed_in_log_order(
    store: AuditedSessionStore,
) -> None:
    """Writers of different sessions do not wait for each other; the user's waits still
    come back in the order a replay of the log gives."""
    errors: list[BaseException] = []

    def register(writer: int) -> None:
        try:
            for round_ in range(25):
                scope = make_scope(f"chat-{writer}-{round_}")
                wait(store, f"w{writer}-{round_ % 5}", "n1", scope=scope)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=register, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    assert errors == []
    assert len(store.list_waits_for_user(CTX, USER)) == 20
    report = store.verify()  # the stored read models equal a replay of the log
    assert report.ok, report.problems


# -- export and import ---------------------------------------------------------------------


@pytest.fixture
def open_empty(
    databases: Databases, fake_clock: FakeClock
) -> Iterator[Callable[[], AuditedSessionStore]]:
    """Opens another, empty store of the backend under test (closed at the end)."""
    opened: list[AuditedSessionStore] = []

    def factory() -> AuditedSessionStore:
        opened.append(open_store(databases.new_url(), clock=fake_clock))
        return opened[-1]

    yield factory
    for instance in opened:
        instance.close()


def test_export_writes_one_json_line_per_event_with_its_hashes(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    keys = populate(store, fake_clock)
    history = {key: store.history(key) for key in keys}

    lines = [json.loads(line) for line in exported(store).splitlines()]

    assert len(lines) == sum(len(events) for events in history.values())
    assert [line["position"] for line in lines] == sorted(line["position"] for line in lines)
    for line in lines:
        event = history[line["session_key"]][line["version"] - 1]
        assert (line["type"], line["hash"], line["prev_hash"]) == (
            event.type.value,
            event.hash,
            event.prev_hash,
        )
        assert line["position"] == event.position


def test_export_then_import_gives_the_same_history_read_models_and_verify(
    store: AuditedSessionStore,
    fake_clock: FakeClock,
    open_empty: Callable[[], AuditedSessionStore],
) -> None:
    keys = populate(store, fake_clock)
    export = exported(store)
    target = open_empty()

    assert target.import_events(io.StringIO(export)) == len(export.splitlines())

    assert_same_store(store, target, keys)


@pytest.mark.postgres
def test_export_then_import_into_another_backend_gives_the_same_history(
    fake_clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Once across backends: SQLite to memory, then memory to PostgreSQL."""
    dsn: str = request.getfixturevalue("pg_dsn")
    sqlite_url = Databases("sqlite", tmp_path, None).new_url()
    postgres = Databases("postgres", tmp_path, dsn)
    request.addfinalizer(postgres.drop_all)
    with (
        open_store(sqlite_url, clock=fake_clock) as source,
        open_store("memory://", clock=fake_clock) as memory,
        open_store(postgres.new_url(), clock=fake_clock) as target,
    ):
        keys = populate(source, fake_clock)
        memory.import_events(io.StringIO(exported(source)))
        target.import_events(io.StringIO(exported(memory)))

        assert_same_store(source, memory, keys)
        assert_same_store(source, target, keys)


def assert_same_store(
    source: AuditedSessionStore, target: AuditedSessionStore, keys: list[SessionKey]
) -> None:
    """History identical apart from positions, which keep their order; same reads; clean."""
    for key in keys:
        assert without_position(target.history(key)) == without_position(source.history(key))
        assert target.get_session(key) == source.get_session(key)

    def log_order(store: AuditedSessionStore) -> list[tuple[str, int]]:
        events = [event for key in keys for event in store.history(key)]
        return [(e.session_key, e.version) for e in sorted(events, key=lambda e: e.position)]

    assert log_order(target) == log_order(source)
    for scope in (SCOPE, OTHER_SCOPE):
        assert target.find_wait_by_scope(CTX, USER, scope) == source.find_wait_by_scope(
            CTX, USER, scope
        )
    assert target.list_waits_for_user(CTX, USER) == source.list_waits_for_user(CTX, USER)
    report = target.verify()
    assert report.ok, report.problems
    assert (report.streams, report.events) == (source.verify().streams, source.verify().events)
    assert [
        {k: v for k, v in json.loads(line).items() if k != "position"}
        for line in exported(target).splitlines()
    ] == [
        {k: v for k, v in json.loads(line).items() if k != "position"}
        for line in exported(source).splitlines()
    ]


def test_an_imported_store_carries_on_the_chain(
    store: AuditedSessionStore,
    fake_clock: FakeClock,
    open_empty: Callable[[], AuditedSessionStore],
) -> None:
    keys = populate(store, fake_clock)
    target = open_empty()
    target.import_events(io.StringIO(exported(store)))
    last = target.history("third")[-1]

    target.update_session("third", data("third.3"))
    wait(target, keys[0], "first.again", ttl=TTL)

    appended = target.history("third")[-1]
    assert (appended.version, appended.prev_hash) == (last.version + 1, last.hash)
    assert target.find_wait_by_scope(CTX, USER, SCOPE) == keys[0]
    assert target.verify().ok


def test_export_with_a_tenant_filter_writes_only_that_tenants_sessions(
    store: AuditedSessionStore, open_empty: Callable[[], AuditedSessionStore]
) -> None:
    ours, theirs = make_ctx(tenant="tenant-a", user=USER), make_ctx(tenant="tenant-b", user=USER)
    mine = store.create_session(ours, data("a.1", ctx=ours))
    store.update_session(mine, data("a.2", ctx=ours))
    wait(store, "b-waiting", "b.1", ctx=theirs)
    other = store.create_session(theirs, data("b.2", ctx=theirs))

    export = exported(store, tenant="tenant-b")

    assert {json.loads(line)["session_key"] for line in export.splitlines()} == {
        "b-waiting",
        other,
    }
    target = open_empty()
    assert target.import_events(io.StringIO(export)) == 3
    assert target.history(mine) == []
    assert without_position(target.history("b-waiting")) == without_position(
        store.history("b-waiting")
    )
    assert target.find_wait_by_scope(theirs, USER, SCOPE) == "b-waiting"
    assert target.verify().ok


def test_import_into_a_store_that_is_not_empty_is_refused(
    store: AuditedSessionStore, open_empty: Callable[[], AuditedSessionStore]
) -> None:
    store.create_session(CTX, data("n1"))
    export = exported(store)
    target = open_empty()
    kept = target.create_session(CTX, data("kept"))

    with raises_code(ErrorCode.CONFLICT):
        target.import_events(io.StringIO(export))

    report = target.verify()
    assert (report.ok, report.events) == (True, 1)
    assert target.get_session(kept) == data("kept")


def test_import_of_a_tampered_file_is_refused_and_writes_nothing(
    store: AuditedSessionStore,
    fake_clock: FakeClock,
    open_empty: Callable[[], AuditedSessionStore],
) -> None:
    keys = populate(store, fake_clock)
    export = exported(store)
    assert '"first.2"' in export
    target = open_empty()

    with raises_invalid():
        target.import_events(io.StringIO(export.replace('"first.2"', '"forged"')))

    assert_empty(target, keys)


def test_import_of_a_file_with_an_event_left_out_is_refused(
    store: AuditedSessionStore,
    fake_clock: FakeClock,
    open_empty: Callable[[], AuditedSessionStore],
) -> None:
    keys = populate(store, fake_clock)
    lines = exported(store).splitlines(keepends=True)
    target = open_empty()

    with raises_invalid():
        target.import_events(io.StringIO("".join(lines[:1] + lines[2:])))

    assert_empty(target, keys)


def test_import_of_a_file_that_is_not_an_export_is_refused(
    store: AuditedSessionStore,
) -> None:
    with raises_invalid():
        store.import_events(io.StringIO('{"hello": "world"}\n'))
    with raises_invalid():
        store.import_events(io.StringIO("not json\n"))

    assert store.verify().events == 0


def assert_empty(store: AuditedSessionStore, keys: list[SessionKey]) -> None:
    report = store.verify()
    assert (report.ok, report.streams, report.events) == (True, 0, 0)
    assert all(store.history(key) == [] for key in keys)
    assert store.find_wait_by_scope(CTX, USER, OTHER_SCOPE) is None
