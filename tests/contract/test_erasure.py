"""Erasure: `erase` strips a subject's sessions of their content (each event keeps its
type, time and hashes), records why in an `erased` event, ends the session and releases
its wait; verify, history, export and import, rebuild, a new life, archives, encryption
and the async store carry on through it. On every backend."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from greentic_session import AsyncSessionStore, ErrorCode, ReplyScope, open_store
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.adapters.storage.encryption import new_key
from greentic_session.domain.audit import ErasureReport, EventType
from greentic_session.domain.store import AuditedSessionStore
from greentic_session.domain.tenant import TenantCtx
from tests.conftest import Databases
from tests.contract.async_fixtures import run_async
from tests.contract.helpers import CTX, SCOPE_A, SCOPE_B, SCOPE_C, USER, data_for, wait
from tests.support import FakeClock, make_ctx, make_data, make_scope, raises_code

REASON = "request DSR-1042"
HOUR = timedelta(hours=1)


def traced(ctx: TenantCtx, trace: str) -> TenantCtx:
    return ctx.model_copy(update={"trace_id": trace, "correlation_id": f"{trace}-corr"})


def two_versions(store: AuditedSessionStore, key: str, scope: ReplyScope = SCOPE_A) -> None:
    """`key` at version 2: created and waiting (a register_wait on a new key), with a
    trace id on its events."""
    wait(store, key, scope, ctx=traced(CTX, f"trace-{key}"))


def keys_of(report: ErasureReport) -> list[str]:
    return sorted(str(key) for key in report.sessions)


# -- one session, by key ------------------------------------------------------------


def test_an_erased_session_reads_as_gone(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    report = store.erase(session="subject", reason=REASON, ctx=CTX)
    assert (keys_of(report), report.events) == (["subject"], 2)
    assert store.get_session("subject") is None
    assert store.read_session("subject") is None


def test_an_erased_session_is_not_found_for_an_update_or_a_remove(
    store: AuditedSessionStore,
) -> None:
    two_versions(store, "subject")
    store.erase(session="subject", reason=REASON)
    with raises_code(ErrorCode.NOT_FOUND):
        store.update_session("subject", data_for())
    with raises_code(ErrorCode.NOT_FOUND):
        store.remove_session("subject")
    assert [e.type for e in store.history("subject")][-1] is EventType.ERASED


def test_time_travel_diff_and_explain_reveal_nothing_of_an_erased_session(
    store: AuditedSessionStore,
) -> None:
    two_versions(store, "subject")
    assert store.get_session_at("subject", version=2) is not None
    assert store.explain(CTX, USER, SCOPE_A).session_key == "subject"
    store.erase(session="subject", reason=REASON)
    assert [store.get_session_at("subject", version=v) for v in (1, 2, 3)] == [None] * 3
    diff = store.diff("subject", 1, 2)
    assert (diff.changes, diff.context_patch, diff.context_diff) == ([], None, None)
    explanation = store.explain(CTX, USER, SCOPE_A)
    assert (explanation.session_key, explanation.trail) == (None, [])


def test_the_history_of_an_erased_session_keeps_every_version_without_content(
    store: AuditedSessionStore,
) -> None:
    two_versions(store, "subject")
    before = store.history("subject")
    assert [e.type for e in before] == [EventType.CREATED, EventType.WAIT_REGISTERED]
    assert before[-1].scope is not None and before[-1].trace_id is not None
    store.erase(session="subject", reason=REASON, ctx=CTX)
    *erased, erasure = store.history("subject")
    assert [(e.version, e.type, e.recorded_at, e.hash, e.prev_hash) for e in erased] == [
        (e.version, e.type, e.recorded_at, e.hash, e.prev_hash) for e in before
    ]
    for entry in erased:
        assert entry.erased, entry
        assert entry.data is None
        assert (entry.scope, entry.user_id, entry.superseded_by, entry.expires_at) == (
            None,
            None,
            None,
            None,
        )
        assert (entry.trace_id, entry.correlation_id, entry.provider_id, entry.actor) == (
            None,
            None,
            None,
            None,
        )
    assert erasure.type is EventType.ERASED
    assert (erasure.version, erasure.erasure_reason, erasure.erased_events) == (3, REASON, 2)
    assert erasure.prev_hash == before[-1].hash
    assert erasure.data is None


def test_verify_passes_after_an_erasure_and_lists_it(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    two_versions(store, "bystander", SCOPE_B)
    store.erase(session="subject", reason=REASON, ctx=CTX)
    result = store.verify()
    assert result.ok, result.problems
    (summary,) = result.erasures
    assert (summary.session_key, summary.version, summary.reason, summary.events) == (
        "subject",
        3,
        REASON,
        2,
    )
    assert summary.erased_by == USER
    assert summary.erased_at == store.history("subject")[-1].recorded_at


def test_an_erasure_without_a_ctx_names_no_eraser(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    store.erase(session="subject", reason=REASON)
    (summary,) = store.verify().erasures
    assert summary.erased_by is None


def test_an_erased_session_releases_its_wait(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    two_versions(store, "bystander", SCOPE_B)
    store.erase(session="subject", reason=REASON)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    assert store.list_waits_for_user(CTX, USER) == ["bystander"]
    wait(store, "successor", SCOPE_A)
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "successor"
    assert [e.type for e in store.history("successor")][-1] is EventType.WAIT_REGISTERED
    assert store.verify().ok


def test_find_sessions_does_not_find_an_erased_session_in_any_state(
    store: AuditedSessionStore,
) -> None:
    two_versions(store, "erased-live")
    two_versions(store, "erased-ended", SCOPE_B)
    store.remove_session("erased-ended")
    two_versions(store, "bystander", SCOPE_C)
    store.erase(session="erased-live", reason=REASON)
    store.erase(session="erased-ended", reason=REASON)
    for state in ("any", "live", "waiting", "ended", "expired"):
        page = store.find_sessions(env="dev", tenant="tenant-a", state=state)
        found = {str(summary.session_key) for summary in page.sessions}
        assert found <= {"bystander"}, (state, found)
    page = store.find_sessions(env="dev", tenant="tenant-a")
    assert [str(summary.session_key) for summary in page.sessions] == ["bystander"]


def test_a_new_life_after_an_erasure_continues_its_history(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    store.erase(session="subject", reason=REASON)
    erasure = store.history("subject")[-1]
    wait(store, "subject")
    assert store.get_session("subject") is not None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) == "subject"
    entries = store.history("subject")
    assert [(e.version, e.type, e.erased) for e in entries[2:]] == [
        (3, EventType.ERASED, False),
        (4, EventType.CREATED, False),
        (5, EventType.WAIT_REGISTERED, False),
    ]
    assert entries[3].prev_hash == erasure.hash
    assert entries[4].data is not None
    assert store.verify().ok


def test_erasing_a_new_life_erases_only_its_events(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    store.erase(session="subject", reason=REASON)
    wait(store, "subject")
    again = store.erase(session="subject", reason="request DSR-1043")
    assert (keys_of(again), again.events) == (["subject"], 2)
    assert [(e.version, e.type, e.erased) for e in store.history("subject")] == [
        (1, EventType.CREATED, True),
        (2, EventType.WAIT_REGISTERED, True),
        (3, EventType.ERASED, False),
        (4, EventType.CREATED, True),
        (5, EventType.WAIT_REGISTERED, True),
        (6, EventType.ERASED, False),
    ]
    result = store.verify()
    assert result.ok, result.problems
    assert [(s.version, s.reason, s.events) for s in result.erasures] == [
        (3, REASON, 2),
        (6, "request DSR-1043", 2),
    ]


def test_erasing_again_with_nothing_new_erases_nothing(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    store.erase(session="subject", reason=REASON)
    before = store.history("subject")
    again = store.erase(session="subject", reason=REASON)
    assert (again.sessions, again.events) == ([], 0)
    assert store.history("subject") == before
    result = store.verify()
    assert result.ok, result.problems
    assert len(result.erasures) == 1


# -- by owner ---------------------------------------------------------------------------

BOB = make_ctx(user="bob")
OTHER_TENANT = make_ctx(tenant="tenant-b", user=USER)


def sessions_of_two_tenants(store: AuditedSessionStore) -> None:
    """tenant-a: alice's a-alice-1 (live) and a-alice-2 (removed), bob's a-bob;
    tenant-b: alice's b-alice."""
    wait(store, "a-alice-1", SCOPE_A)
    wait(store, "a-alice-2", SCOPE_B)
    store.remove_session("a-alice-2")
    wait(store, "a-bob", SCOPE_A, ctx=BOB, user="bob")
    wait(store, "b-alice", SCOPE_A, ctx=OTHER_TENANT)


def test_erasing_a_tenant_erases_all_its_sessions_and_no_other_tenants(
    store: AuditedSessionStore,
) -> None:
    sessions_of_two_tenants(store)
    report = store.erase(env="dev", tenant="tenant-a", reason=REASON)
    assert keys_of(report) == ["a-alice-1", "a-alice-2", "a-bob"]
    assert report.events == 2 + 3 + 2
    assert store.get_session("a-alice-1") is None and store.get_session("a-bob") is None
    assert store.get_session("b-alice") is not None
    assert not any(e.erased for e in store.history("b-alice"))
    assert store.find_wait_by_scope(OTHER_TENANT, USER, SCOPE_A) == "b-alice"
    result = store.verify()
    assert result.ok, result.problems
    assert sorted(str(s.session_key) for s in result.erasures) == keys_of(report)


def test_erasing_a_user_erases_only_that_users_sessions(store: AuditedSessionStore) -> None:
    sessions_of_two_tenants(store)
    report = store.erase(env="dev", tenant="tenant-a", user=USER, reason=REASON)
    assert keys_of(report) == ["a-alice-1", "a-alice-2"]
    assert report.events == 2 + 3
    assert store.get_session("a-bob") is not None
    assert store.get_session("b-alice") is not None
    assert not any(e.erased for e in store.history("a-bob"))
    assert store.find_wait_by_scope(BOB, "bob", SCOPE_A) == "a-bob"
    assert store.verify().ok


def test_erasing_a_team_erases_only_that_teams_sessions(store: AuditedSessionStore) -> None:
    red = make_ctx(team="red", user=USER)
    blue = make_ctx(team="blue", user=USER)
    wait(store, "red-1", ctx=red)
    wait(store, "blue-1", ctx=blue)
    report = store.erase(env="dev", tenant="tenant-a", team="red", reason=REASON)
    assert keys_of(report) == ["red-1"]
    assert store.get_session("blue-1") is not None
    assert store.verify().ok


def test_erasing_a_tenant_with_no_sessions_erases_nothing(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    report = store.erase(env="dev", tenant="tenant-z", reason=REASON)
    assert (report.sessions, report.events) == ([], 0)
    assert store.get_session("subject") is not None


# -- refused arguments ---------------------------------------------------------------

REFUSED: dict[str, dict[str, Any]] = {
    "no-reason": {"session": "subject", "reason": None},
    "empty-reason": {"session": "subject", "reason": ""},
    "blank-reason": {"session": "subject", "reason": "  \t "},
    "reason-over-1000-chars": {"session": "subject", "reason": "x" * 1001},
    "session-and-tenant": {
        "session": "subject",
        "env": "dev",
        "tenant": "tenant-a",
        "reason": REASON,
    },
    "session-and-user": {"session": "subject", "user": USER, "reason": REASON},
    "tenant-without-env": {"tenant": "tenant-a", "reason": REASON},
    "env-without-tenant": {"env": "dev", "reason": REASON},
    "user-without-tenant": {"env": "dev", "user": USER, "reason": REASON},
    "no-subject": {"reason": REASON},
    "empty-key": {"session": "", "reason": REASON},
    "ctx-not-a-tenant-ctx": {"session": "subject", "reason": REASON, "ctx": "alice"},
}


@pytest.mark.parametrize("arguments", list(REFUSED.values()), ids=list(REFUSED))
def test_bad_arguments_are_invalid_input_and_erase_nothing(
    store: AuditedSessionStore, arguments: dict[str, Any]
) -> None:
    two_versions(store, "subject")
    before = store.history("subject")
    with raises_code(ErrorCode.INVALID_INPUT):
        store.erase(**arguments)
    assert store.history("subject") == before
    assert store.get_session("subject") is not None
    assert store.verify().erasures == []


def test_a_reason_of_exactly_1000_chars_is_accepted(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    assert store.erase(session="subject", reason="x" * 1000).events == 2


def test_erasing_a_key_never_written_is_not_found(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    with raises_code(ErrorCode.NOT_FOUND):
        store.erase(session="never-written", reason=REASON)
    assert store.get_session("subject") is not None
    assert store.verify().erasures == []


# -- export, import, rebuild ---------------------------------------------------------

ERASED_MARKERS = (
    "MarkErasedContext",
    "node.MarkErasedNode",
    "mark-erased-user",
    "MarkErasedChat",
    "MarkErasedThread",
    "MarkErasedTrace",
    "MarkErasedFlow",
)
KEPT_MARKERS = (
    "MarkKeptContext",
    "node.MarkKeptNode",
    "mark-kept-user",
    "MarkKeptChat",
    "MarkKeptTrace",
    "MarkKeptFlow",
)


def marked(store: AuditedSessionStore, key: str, mark: str, user: str, *, pad: int = 0) -> None:
    """A session whose every field holds `mark`: context, node, user, scope, trace, flow;
    registered, then updated, so its history has three events. `pad`: the context is
    padded with that many more copies of the mark (rows larger than a database page)."""
    ctx = traced(make_ctx(user=user), f"Mark{mark}Trace")
    scope = make_scope(f"telegram:Mark{mark}Chat", thread=f"Mark{mark}Thread")
    data = make_data(
        ctx,
        node=f"node.Mark{mark}Node",
        context_json=f'{{"note": "Mark{mark}Context", "pad": "{f"Mark{mark}Context" * pad}"}}',
        flow=f"Mark{mark}Flow",
    )
    store.register_wait(ctx, user, scope, key, data)
    store.update_session(key, data.model_copy(update={"context_json": f'["Mark{mark}Context"]'}))


def exported(store: AuditedSessionStore) -> str:
    fp = io.StringIO()
    store.export_events(fp)
    return fp.getvalue()


def test_the_export_after_an_erasure_holds_none_of_the_erased_content(
    store: AuditedSessionStore,
) -> None:
    marked(store, "subject", "Erased", "mark-erased-user")
    marked(store, "bystander", "Kept", "mark-kept-user")
    before = exported(store)
    assert all(marker in before for marker in ERASED_MARKERS)
    assert store.erase(session="subject", reason=REASON, ctx=CTX).events == 3
    after = exported(store)
    assert [marker for marker in ERASED_MARKERS if marker in after] == []
    assert [marker for marker in KEPT_MARKERS if marker not in after] == []
    assert REASON in after


def test_an_export_after_an_erasure_imports_and_verifies(
    store: AuditedSessionStore, databases: Databases
) -> None:
    marked(store, "subject", "Erased", "mark-erased-user")
    marked(store, "bystander", "Kept", "mark-kept-user")
    store.erase(session="subject", reason=REASON, ctx=CTX)
    text = exported(store)
    with open_store(databases.new_url()) as copy:
        assert copy.import_events(io.StringIO(text)) == 3 + 1 + 3
        result = copy.verify()
        assert result.ok, result.problems
        assert [(s.session_key, s.reason, s.events, s.erased_by) for s in result.erasures] == [
            ("subject", REASON, 3, USER)
        ]
        assert copy.history("subject") == store.history("subject")
        assert copy.get_session("subject") is None
        assert copy.get_session("bystander") == store.get_session("bystander")
        assert [marker for marker in ERASED_MARKERS if marker in exported(copy)] == []


def test_rebuild_after_an_erasure_gives_the_same_read_models(store: AuditedSessionStore) -> None:
    two_versions(store, "subject")
    two_versions(store, "bystander", SCOPE_B)
    store.erase(session="subject", reason=REASON)
    assert isinstance(store, EventSourcedSessionStore)
    before = store.current_read_models()
    assert store.replay_read_models() == before
    store.rebuild_projections()
    assert store.current_read_models() == before
    assert store.get_session("subject") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPE_A) is None
    result = store.verify()
    assert result.ok, result.problems
    assert len(result.erasures) == 1


# -- archives, encryption, the async store, progress --------------------------------


def test_an_erasure_after_an_archived_life_erases_the_live_events(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "subject")
    store.remove_session("subject")
    fake_clock.advance(HOUR)
    assert store.archive(ended_before=fake_clock.now, to=io.StringIO()).streams == 1
    wait(store, "subject")
    report = store.erase(session="subject", reason=REASON)
    assert (keys_of(report), report.events) == (["subject"], 2)
    assert [(e.version, e.type, e.erased) for e in store.history("subject")] == [
        (3, EventType.ARCHIVED, False),
        (4, EventType.CREATED, True),
        (5, EventType.WAIT_REGISTERED, True),
        (6, EventType.ERASED, False),
    ]
    assert store.get_session("subject") is None
    result = store.verify()
    assert result.ok, result.problems
    assert [(s.version, s.events) for s in result.erasures] == [(6, 2)]


def test_an_erasure_on_an_encrypted_store_verifies(
    store_url: str, fake_clock: FakeClock, databases: Databases
) -> None:
    key = new_key()
    with open_store(store_url, clock=fake_clock, encryption_key=key) as encrypted:
        marked(encrypted, "subject", "Erased", "mark-erased-user")
        marked(encrypted, "bystander", "Kept", "mark-kept-user")
        report = encrypted.erase(session="subject", reason=REASON, ctx=CTX)
        assert (keys_of(report), report.events) == (["subject"], 3)
        assert encrypted.get_session("subject") is None
        assert encrypted.get_session("bystander") is not None
        result = encrypted.verify()
        assert result.ok, result.problems
        assert [(s.session_key, s.events) for s in result.erasures] == [("subject", 3)]
        text = exported(encrypted)
    with open_store(databases.new_url(), encryption_key=key) as copy:
        copy.import_events(io.StringIO(text))
        result = copy.verify()
        assert result.ok, result.problems
        assert copy.get_session("subject") is None
        assert copy.get_session("bystander") is not None


def test_the_async_store_erases_on_its_worker_thread(store_url: str, fake_clock: FakeClock) -> None:
    async def body(store: AsyncSessionStore) -> tuple[ErasureReport, bool, int, bool]:
        await store.register_wait(CTX, USER, SCOPE_A, "subject", data_for())
        await store.register_wait(CTX, USER, SCOPE_B, "bystander", data_for())
        report = await store.erase(session="subject", reason=REASON, ctx=CTX)
        verified = await store.verify()
        gone = await store.get_session("subject") is None
        return report, verified.ok, len(verified.erasures), gone

    report, ok, erasures, gone = run_async(store_url, fake_clock, body)
    assert report == ErasureReport(sessions=["subject"], events=2)
    assert (ok, erasures, gone) == (True, 1, True)


def test_the_async_store_refuses_bad_arguments_as_the_sync_one(
    store_url: str, fake_clock: FakeClock
) -> None:
    async def body(store: AsyncSessionStore) -> None:
        with raises_code(ErrorCode.INVALID_INPUT):
            await store.erase(session="subject", reason=" ")
        with raises_code(ErrorCode.NOT_FOUND):
            await store.erase(session="never-written", reason=REASON)

    run_async(store_url, fake_clock, body)


def test_progress_counts_the_sessions_erased(store: AuditedSessionStore) -> None:
    sessions_of_two_tenants(store)
    calls: list[tuple[int, int | None]] = []
    store.erase(
        env="dev",
        tenant="tenant-a",
        reason=REASON,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (3, 3)
    assert {done for done, _ in calls} == {1, 2, 3}
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_progress_of_an_erasure_that_finds_nothing_ends_at_zero(
    store: AuditedSessionStore,
) -> None:
    calls: list[tuple[int, int | None]] = []
    store.erase(
        env="dev", tenant="tenant-a", reason=REASON, progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(0, 0)]


def test_on_sqlite_the_erased_content_leaves_the_database_files(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    path = tmp_path / "erasure.db"

    def on_disk() -> bytes:
        return b"".join(part.read_bytes() for part in sorted(tmp_path.glob("erasure.db*")))

    with open_store(f"sqlite:///{path}", clock=fake_clock) as store:
        marked(store, "subject", "Erased", "mark-erased-user", pad=2000)
        marked(store, "bystander", "Kept", "mark-kept-user", pad=2000)
        assert all(marker.encode() in on_disk() for marker in ERASED_MARKERS)
        store.erase(session="subject", reason=REASON)
        files = on_disk()
        assert [marker for marker in ERASED_MARKERS if marker.encode() in files] == []
        assert [marker for marker in KEPT_MARKERS if marker.encode() not in files] == []
