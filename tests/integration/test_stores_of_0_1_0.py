"""A store and an export written by 0.1.0, before the package was `greentic_session`, still
open, verify, replay and import: their events name classes by the old module path."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from datetime import timedelta
from pathlib import Path

from greentic_session import EventSourcedSessionStore, UserId, open_store
from greentic_session.projections import scope_explanation

FIXTURE = Path(__file__).parent.parent / "fixtures" / "store_0_1_0"
EVERY_TOPIC = {
    f"domain.aggregate:Session.{name}"
    for name in (
        "Created",
        "Recreated",
        "Updated",
        "WaitRegistered",
        "WaitSuperseded",
        "WaitCleared",
        "WaitExpired",
        "Removed",
    )
}


def _copy_of_the_store(tmp_path: Path) -> str:
    shutil.copy(FIXTURE / "store.db", tmp_path / "store.db")
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_the_fixture_holds_every_event_type_under_its_old_topic() -> None:
    lines = (FIXTURE / "export.jsonl").read_text().splitlines()
    assert {json.loads(line)["topic"] for line in lines} == EVERY_TOPIC


def test_a_store_written_by_0_1_0_verifies(tmp_path: Path) -> None:
    with open_store(_copy_of_the_store(tmp_path)) as store:
        report = store.verify()
    assert report.ok, report.problems
    assert (report.streams, report.events) == (4, 15)


def test_a_store_written_by_0_1_0_replays_into_the_same_read_models(tmp_path: Path) -> None:
    with open_store(_copy_of_the_store(tmp_path)) as store:
        before = store.get_session("refund-1042")
        store.rebuild_projections()
        assert store.get_session("refund-1042") == before
        assert before is not None and before.cursor.node_pointer == "again"
        assert store.verify().ok


def test_a_store_written_by_0_1_0_keeps_its_history_and_takes_new_writes(tmp_path: Path) -> None:
    with open_store(_copy_of_the_store(tmp_path)) as store:
        history = store.history("refund-1042")
        assert [event.version for event in history] == [1, 2, 3, 4, 5, 6, 7]
        current = store.get_session("refund-1042")
        assert current is not None
        store.update_session("refund-1042", current.model_copy(update={"context_json": "{}"}))
        assert len(store.history("refund-1042")) == 8
        assert store.verify().ok


def test_an_export_written_by_0_1_0_imports_with_its_hashes(tmp_path: Path) -> None:
    exported = (FIXTURE / "export.jsonl").read_text().splitlines()
    with open_store(f"sqlite:///{tmp_path / 'imported.db'}") as store:
        with (FIXTURE / "export.jsonl").open() as fp:
            assert store.import_events(fp) == len(exported)
        assert store.verify().ok
        hashes = [event.hash for event in store.history("refund-1042")]
    old = [json.loads(line) for line in exported]
    assert hashes == [line["hash"] for line in old if line["session_key"] == "refund-1042"]
    assert Counter(line["type"] for line in old)["created"] == 5


def test_a_store_written_by_0_1_0_gets_its_scope_history_from_its_log_when_opened(
    tmp_path: Path,
) -> None:
    url = _copy_of_the_store(tmp_path)
    with sqlite3.connect(tmp_path / "store.db") as db:
        found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'gs_scope_history'")
        assert not found.fetchall()
    with open_store(url) as store:
        assert isinstance(store, EventSourcedSessionStore)
        stored = store.current_read_models().scope_history
        assert stored and stored == store.replay_read_models().scope_history
        registrations = [
            event
            for key in store.current_read_models().heads
            for event in store.history(key)
            if event.type == "wait_registered"
        ]
        assert registrations
        for event in registrations:
            assert event.data is not None and event.scope is not None and event.user_id
            ctx, user = event.data.tenant_ctx, UserId(event.user_id)
            for at in (event.recorded_at, event.recorded_at + timedelta(days=1)):
                whole = scope_explanation.explain(
                    ((0, e) for e in store.events()), ctx, user, event.scope, at
                )
                assert store.explain(ctx, user, event.scope, at=at) == whole


def test_a_store_written_by_0_1_0_answers_find_sessions_once_opened(tmp_path: Path) -> None:
    """Its session index is created and filled from its log on the first open."""
    url = _copy_of_the_store(tmp_path)
    with sqlite3.connect(tmp_path / "store.db") as db:
        found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'gs_session_index'")
        assert not found.fetchall()
    with open_store(url) as store:
        assert isinstance(store, EventSourcedSessionStore)
        summaries = store.find_sessions(limit=10).sessions
        assert {s.session_key for s in summaries} == set(store.current_read_models().heads)
        assert store.current_read_models().sessions == store.replay_read_models().sessions
        named = {str(s.session_key): (s.state, s.version, s.conversation) for s in summaries}
        assert named["refund-1042"] == ("waiting", 7, "chat-43")
        assert named["billing-3"] == ("expired", 3, "chat-43")
        assert named["survey-7"] == ("ended", 3, "chat-42")
        assert store.verify().ok


def test_a_store_written_by_0_1_0_erases_and_verifies_with_its_old_events_unchecked(
    tmp_path: Path,
) -> None:
    """0.1.0's events have no commitment: erased, their links are still followed, their
    hashes cannot be recomputed, and verify says how many."""
    url = _copy_of_the_store(tmp_path)
    with open_store(url) as store:
        erased = len(store.history("refund-1042"))
        report = store.erase(session="refund-1042", reason="request 17")
        verified = store.verify()
        history = store.history("refund-1042")
    assert report.events == erased
    assert verified.ok, verified.problems
    assert verified.unchecked_erased == erased
    assert [e.reason for e in verified.erasures] == ["request 17"]
    assert all(e.erased for e in history[:-1]) and history[-1].erased_events == erased


def test_a_store_written_by_0_1_0_keeps_nothing_of_an_erased_session_in_its_file(
    tmp_path: Path,
) -> None:
    url = _copy_of_the_store(tmp_path)
    marker = b'"node_pointer":"again"'
    assert marker in (tmp_path / "store.db").read_bytes()  # the session's cursor, in clear
    with open_store(url) as store:
        store.erase(session="refund-1042", reason="request 17")
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert marker not in stored
    assert b"refund-1042" in stored  # the key stays: the stream's name
