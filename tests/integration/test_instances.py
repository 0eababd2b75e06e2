"""Several instances on one database: each sees what another wrote, at once, and decides
on it rather than on what it wrote last."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from greentic_session import AuditedSessionStore, ErrorCode, SessionError, SessionStore
from greentic_session.projections.read_models import WaitEntry
from tests.integration.persistence import CTX, SCOPES, TTL, USER, OpenAnother, persistent
from tests.support import FakeClock, make_data


@persistent
def test_a_created_session_is_visible_to_another_instance(
    store: SessionStore, open_another: OpenAnother
) -> None:
    other = open_another()
    key = store.create_session(CTX, make_data(CTX, node="created"))
    assert other.get_session(key) == make_data(CTX, node="created")


@persistent
def test_an_update_is_visible_to_another_instance(
    store: SessionStore, open_another: OpenAnother
) -> None:
    other = open_another()
    key = store.create_session(CTX, make_data(CTX, node="one"))
    assert other.get_session(key) == make_data(CTX, node="one")
    other.update_session(key, make_data(CTX, node="two"))
    assert store.get_session(key) == make_data(CTX, node="two")


@persistent
def test_a_removal_is_visible_to_another_instance(
    store: SessionStore, open_another: OpenAnother
) -> None:
    other = open_another()
    key = store.create_session(CTX, make_data(CTX))
    assert other.get_session(key) is not None
    store.remove_session(key)
    assert other.get_session(key) is None
    with pytest.raises(SessionError) as error:
        other.update_session(key, make_data(CTX))
    assert error.value.code is ErrorCode.NOT_FOUND


@persistent
def test_a_wait_is_routed_by_another_instance(
    store: SessionStore, open_another: OpenAnother
) -> None:
    other = open_another()
    store.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX))
    assert other.find_wait_by_scope(CTX, USER, SCOPES[0]) == "k"
    assert other.list_waits_for_user(CTX, USER) == ["k"]
    other.clear_wait(CTX, USER, SCOPES[0])
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPES[0]) is None


@persistent
def test_scope_takeover_across_instances(store: SessionStore, open_another: OpenAnother) -> None:
    other = open_another()
    store.register_wait(CTX, USER, SCOPES[0], "first", make_data(CTX, node="first"))
    other.register_wait(CTX, USER, SCOPES[0], "second", make_data(CTX, node="second"))
    assert store.find_wait_by_scope(CTX, USER, SCOPES[0]) == "second"
    assert store.list_waits_for_user(CTX, USER) == ["second"]
    store.remove_session("first")
    assert other.find_wait_by_scope(CTX, USER, SCOPES[0]) == "second"


@persistent
def test_order_across_instances(store: SessionStore, open_another: OpenAnother) -> None:
    other = open_another()
    store.register_wait(CTX, USER, SCOPES[0], "x", make_data(CTX))
    other.register_wait(CTX, USER, SCOPES[1], "y", make_data(CTX))
    store.register_wait(CTX, USER, SCOPES[0], "x", make_data(CTX))
    assert store.list_waits_for_user(CTX, USER) == ["y", "x"]
    assert other.list_waits_for_user(CTX, USER) == ["y", "x"]


@persistent
def test_expiry_seen_by_another_instance(
    store: SessionStore, open_another: OpenAnother, fake_clock: FakeClock
) -> None:
    other = open_another()
    store.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX, node="life-1"), TTL)
    fake_clock.advance(TTL * 2)
    assert other.get_session("k") is None
    other.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX, node="life-2"))
    assert store.get_session("k") == make_data(CTX, node="life-2")


CHILD_SCRIPT = """
import sys
from datetime import datetime
from greentic_session import open_store
from tests.support import FakeClock, make_ctx, make_data, make_scope, run_together

url, now = sys.argv[1], datetime.fromisoformat(sys.argv[2])
ctx = make_ctx(user="alice")
with open_store(url, clock=FakeClock(now)) as store:
    assert store.get_session("parent") == make_data(ctx, node="from-parent")
    store.register_wait(ctx, "alice", make_scope("chat-0"), "child", make_data(ctx, node="child"))
    store.update_session("parent", make_data(ctx, node="changed-by-child"))
"""


@persistent
def test_writes_of_another_process_are_seen_at_once(
    store: SessionStore, store_url: str, fake_clock: FakeClock
) -> None:
    store.register_wait(CTX, USER, SCOPES[1], "parent", make_data(CTX, node="from-parent"))
    assert store.get_session("child") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPES[0]) is None
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, store_url, fake_clock.now.isoformat()],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert store.find_wait_by_scope(CTX, USER, SCOPES[0]) == "child"
    assert store.list_waits_for_user(CTX, USER) == ["parent", "child"]
    assert store.get_session("parent") == make_data(CTX, node="changed-by-child")
    store.update_session("parent", make_data(CTX, node="parent-again"))
    assert store.get_session("parent") == make_data(CTX, node="parent-again")


# -- writes that decide on what this instance wrote last -----------------------------------


# Each instance remembers the state it last wrote (a write skips the read); another
# instance's writes since must still count, also when the write refuses or does nothing.
@persistent
def test_an_update_sees_a_session_another_instance_brought_back(
    store: SessionStore, open_another: OpenAnother
) -> None:
    store.register_wait(CTX, USER, SCOPES[0], "back", make_data(CTX))
    store.remove_session("back")
    open_another().register_wait(CTX, USER, SCOPES[0], "back", make_data(CTX, node="b"))
    store.update_session("back", make_data(CTX, node="updated"))
    assert store.get_session("back") == make_data(CTX, node="updated")


@persistent
def test_a_removal_sees_a_session_another_instance_brought_back(
    store: SessionStore, open_another: OpenAnother
) -> None:
    store.register_wait(CTX, USER, SCOPES[0], "back", make_data(CTX))
    store.remove_session("back")
    open_another().register_wait(CTX, USER, SCOPES[0], "back", make_data(CTX, node="b"))
    store.remove_session("back")
    assert store.get_session("back") is None


@persistent
def test_a_clear_sees_a_wait_another_instance_moved(
    store: SessionStore, open_another: OpenAnother
) -> None:
    store.register_wait(CTX, USER, SCOPES[0], "moved", make_data(CTX))
    open_another().register_wait(CTX, USER, SCOPES[1], "moved", make_data(CTX))
    store.clear_wait(CTX, USER, SCOPES[1])
    assert store.get_session("moved") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPES[1]) is None


@persistent
def test_a_sweep_sees_a_deadline_another_instance_set(
    store: AuditedSessionStore, open_another: OpenAnother, fake_clock: FakeClock
) -> None:
    store.register_wait(CTX, USER, SCOPES[0], "due", make_data(CTX))
    store.remove_session("due")
    open_another().register_wait(CTX, USER, SCOPES[2], "due", make_data(CTX), TTL)
    fake_clock.advance(TTL)
    assert store.sweep_expired() == 1


@persistent
def test_a_clear_whose_scope_changed_hands_between_its_reads_clears_the_new_holder(
    store: SessionStore, open_another: OpenAnother, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race, staged: the clear reads the index while `old` still holds the scope, then
    `new` takes it over before the clear loads `old`. Clearing nothing would fit no order
    of the two operations."""
    store.register_wait(CTX, USER, SCOPES[0], "old", make_data(CTX))
    store.register_wait(CTX, USER, SCOPES[0], "new", make_data(CTX))
    clearing = open_another()
    reader = clearing._models  # type: ignore[attr-defined]
    read = reader.scope_entry
    answers = [WaitEntry(session_key="old", expires_at=None)]
    monkeypatch.setattr(reader, "scope_entry", lambda key: answers.pop() if answers else read(key))
    clearing.clear_wait(CTX, USER, SCOPES[0])
    assert store.get_session("new") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPES[0]) is None
