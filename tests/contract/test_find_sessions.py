"""`find_sessions`: a page of the session index, filtered, newest first, with a cursor."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from greentic_session import AuditedSessionStore, ErrorCode, ReplyScope, SessionKey, SessionSummary
from greentic_session.domain.state import stream_id
from tests.contract.audit_helpers import CTX, SCOPE, STEP, TTL, USER, data, later, wait
from tests.support import FakeClock, make_ctx, make_data, make_scope, raises_code

OTHER = make_ctx(tenant="tenant-b", user="bob")


def keys(summaries: list[SessionSummary]) -> list[str]:
    return [summary.session_key for summary in summaries]


def every_page(store: AuditedSessionStore, limit: int, **filters: object) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        page = store.find_sessions(limit=limit, after=after, **filters)  # type: ignore[arg-type]
        pages.append(keys(page.sessions))
        if page.next is None:
            return pages
        after = page.next


def test_a_summary_says_who_the_session_belongs_to_and_where_it_waits(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    ctx = make_ctx(env="prod", tenant="acme", team="support", user=USER)
    key = store.create_session(ctx, make_data(ctx, flow="refund"))
    store.register_wait(ctx, USER, SCOPE, key, make_data(ctx, flow="refund"), TTL)

    (summary,) = store.find_sessions().sessions

    assert summary == SessionSummary(
        session_key=key,
        env="prod",
        tenant="acme",
        team="support",
        user=USER,
        flow="refund",
        conversation="chat-1",
        state="waiting",
        version=2,
        updated_at=fake_clock.now,
        expires_at=fake_clock.now + TTL,
    )


def test_sessions_come_most_recently_updated_first(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    first = store.create_session(CTX, data("a"))
    later(fake_clock)
    second = store.create_session(CTX, data("b"))
    later(fake_clock)
    store.update_session(first, data("a2"))

    assert keys(store.find_sessions().sessions) == [first, second]


def test_sessions_updated_at_one_instant_are_ordered_by_stream_id_last_first(
    store: AuditedSessionStore,
) -> None:
    """By stream id, not by key: a key may be longer than an index entry can hold."""
    made = [store.create_session(CTX, data(f"n{n}")) for n in range(5)]

    by_stream = sorted(made, key=lambda key: str(stream_id(key)), reverse=True)
    assert keys(store.find_sessions().sessions) == by_stream


def test_a_session_with_a_long_key_and_a_long_conversation_is_found(
    store: AuditedSessionStore,
) -> None:
    key = "k" * 4000
    conversation = "c\x00" + "x" * 4000
    scope = ReplyScope(conversation=conversation)
    store.register_wait(CTX, USER, scope, key, data("long"))

    page = store.find_sessions(conversation=conversation)
    assert keys(page.sessions) == [key]
    assert page.sessions[0].conversation == conversation


def test_paging_visits_every_session_once_in_order(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    made = []
    for n in range(11):
        made.append(store.create_session(CTX, data(f"n{n}")))
        if n % 3 == 0:
            later(fake_clock)  # some share an instant, some do not
    whole = keys(store.find_sessions(limit=100).sessions)

    pages = every_page(store, limit=3)

    assert [len(page) for page in pages] == [3, 3, 3, 2]
    assert [key for page in pages for key in page] == whole
    assert sorted(whole) == sorted(made)


def test_the_last_full_page_has_no_next_cursor(store: AuditedSessionStore) -> None:
    for n in range(4):
        store.create_session(CTX, data(f"n{n}"))

    assert every_page(store, limit=2)[-1] != []
    assert store.find_sessions(limit=4).next is None


@pytest.mark.parametrize(
    ("name", "value"),
    [("env", "dev"), ("tenant", "tenant-a"), ("user", USER), ("flow", "flow-alpha")],
)
def test_each_identifier_filter_keeps_only_its_sessions(
    store: AuditedSessionStore, name: str, value: str
) -> None:
    mine = store.create_session(CTX, data("mine"))
    other_ctx = make_ctx(env="prod", tenant="tenant-b", user="bob")
    store.create_session(other_ctx, make_data(other_ctx, flow="flow-beta"))

    assert keys(store.find_sessions(**{name: value}).sessions) == [mine]  # type: ignore[arg-type]


def test_the_team_filter_keeps_only_the_teams_sessions(store: AuditedSessionStore) -> None:
    team_ctx = make_ctx(team="blue", user=USER)
    blue = store.create_session(team_ctx, make_data(team_ctx))
    store.create_session(CTX, data("no team"))

    assert keys(store.find_sessions(team="blue").sessions) == [blue]


def test_the_conversation_filter_finds_a_session_by_its_last_wait(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    waited = store.create_session(CTX, data("w"))
    wait(store, waited, "w1")
    later(fake_clock)
    wait(store, "taker", "t1")  # supersedes `waited`: it keeps its conversation
    later(fake_clock)
    store.update_session(waited, data("w2"))
    store.create_session(CTX, data("never waited"))

    found = keys(store.find_sessions(conversation="chat-1").sessions)

    assert found == [waited, "taker"]


def test_tenants_never_see_each_others_sessions(store: AuditedSessionStore) -> None:
    a = store.create_session(CTX, data("a"))
    b = store.create_session(OTHER, make_data(OTHER))

    assert keys(store.find_sessions(tenant="tenant-a").sessions) == [a]
    assert keys(store.find_sessions(tenant="tenant-b").sessions) == [b]
    assert store.find_sessions(tenant="tenant-a", user="bob").sessions == []


def test_filters_combine_as_all_of_them(store: AuditedSessionStore) -> None:
    both = store.create_session(CTX, data("both"))
    wait(store, both, "both.1")
    store.create_session(CTX, data("no wait"))
    store.create_session(OTHER, make_data(OTHER))

    found = store.find_sessions(tenant="tenant-a", user=USER, conversation="chat-1")

    assert keys(found.sessions) == [both]


def states_of(store: AuditedSessionStore, state: str) -> set[str]:
    return set(keys(store.find_sessions(state=state).sessions))


@pytest.fixture
def lives(store: AuditedSessionStore, fake_clock: FakeClock) -> dict[str, SessionKey]:
    """A session in each state: waiting, live without a wait, cleared, removed, expired by
    a sweep, and past its deadline with no expiry recorded yet."""
    made = {
        name: SessionKey(name)
        for name in ("waiting", "live", "cleared", "removed", "swept", "unswept")
    }
    wait(store, "swept", "s", scope=make_scope("chat-s"), ttl=timedelta(seconds=30))
    later(fake_clock)
    assert store.sweep_expired() == 1
    wait(store, "unswept", "u", scope=make_scope("chat-u"), ttl=timedelta(seconds=30))
    wait(store, "cleared", "c", scope=make_scope("chat-c"))
    store.clear_wait(CTX, USER, make_scope("chat-c"))
    wait(store, "removed", "r", scope=make_scope("chat-r"))
    store.remove_session("removed")
    wait(store, "live", "l", scope=make_scope("chat-l"))
    wait(store, "waiting", "w", scope=make_scope("chat-l"))  # supersedes `live`
    later(fake_clock)
    return made


def test_waiting_is_live_with_a_live_wait(
    store: AuditedSessionStore, lives: dict[str, SessionKey]
) -> None:
    assert states_of(store, "waiting") == {lives["waiting"]}


def test_live_takes_every_live_session_with_or_without_a_wait(
    store: AuditedSessionStore, lives: dict[str, SessionKey]
) -> None:
    assert states_of(store, "live") == {lives["waiting"], lives["live"]}


def test_ended_is_cleared_or_removed(
    store: AuditedSessionStore, lives: dict[str, SessionKey]
) -> None:
    assert states_of(store, "ended") == {lives["cleared"], lives["removed"]}


def test_expired_counts_a_deadline_passed_whether_swept_or_not(
    store: AuditedSessionStore, lives: dict[str, SessionKey]
) -> None:
    assert states_of(store, "expired") == {lives["swept"], lives["unswept"]}
    unswept = store.find_sessions(state="expired", conversation="chat-u").sessions
    assert [summary.state for summary in unswept] == ["expired"]


def test_any_takes_every_state(store: AuditedSessionStore, lives: dict[str, SessionKey]) -> None:
    assert states_of(store, "any") == set(lives.values())


def test_a_session_live_again_is_no_longer_ended(
    store: AuditedSessionStore, lives: dict[str, SessionKey]
) -> None:
    wait(store, lives["cleared"], "again", scope=make_scope("chat-c"))

    assert lives["cleared"] in states_of(store, "waiting")
    assert lives["cleared"] not in states_of(store, "ended")


def test_updated_since_includes_its_instant_and_updated_before_excludes_it(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    early = store.create_session(CTX, data("early"))
    middle_at = later(fake_clock)
    middle = store.create_session(CTX, data("middle"))
    late_at = later(fake_clock)
    late = store.create_session(CTX, data("late"))

    assert keys(store.find_sessions(updated_since=middle_at).sessions) == [late, middle]
    assert keys(store.find_sessions(updated_before=late_at).sessions) == [middle, early]
    window = store.find_sessions(updated_since=middle_at, updated_before=late_at)
    assert keys(window.sessions) == [middle]


@pytest.mark.parametrize(
    "arguments",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "5"},
        {"state": "sleeping"},
        {"after": "not a cursor"},
        {"after": "bm90IGEgY3Vyc29y"},
        {"updated_since": datetime(2030, 1, 1)},
        {"updated_before": datetime(2030, 1, 1)},
        {"tenant": "bad tenant"},
        {"user": ""},
        {"conversation": ""},
    ],
    ids=lambda arguments: ",".join(f"{k}={v!r}" for k, v in arguments.items()),
)
def test_bad_input_is_invalid_input(
    store: AuditedSessionStore, arguments: dict[str, object]
) -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        store.find_sessions(**arguments)  # type: ignore[arg-type]


def test_a_rebuild_gives_the_same_answers(
    store: AuditedSessionStore, lives: dict[str, SessionKey]
) -> None:
    before = {state: every_page(store, 2, state=state) for state in ("any", "live", "ended")}

    store.rebuild_projections()

    after = {state: every_page(store, 2, state=state) for state in ("any", "live", "ended")}
    assert after == before


def test_summaries_report_the_state_at_query_time(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    key = store.create_session(CTX, data("t"))
    wait(store, key, "t1", ttl=TTL)
    assert [s.state for s in store.find_sessions().sessions] == ["waiting"]

    fake_clock.advance(TTL + STEP)

    (summary,) = store.find_sessions().sessions
    assert summary.state == "expired"
    assert summary.expires_at is not None and summary.expires_at < fake_clock.now
