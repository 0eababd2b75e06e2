"""`diff`: what changed between two versions of a session."""

from __future__ import annotations

import json

import jsonpatch

from greentic_session import AuditedSessionStore, SessionCursor
from greentic_session.domain.instants import instant_text
from tests.contract.audit_helpers import CTX, SCOPE, TTL, USER, data, raises_invalid, wait
from tests.support import FakeClock


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
        "expires_at": (None, instant_text(fake_clock.now + TTL)),
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
