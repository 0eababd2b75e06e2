"""The app's pages over HTTP, on every backend: what each shows, that none writes, and
that every failure is a page with its code and status, never a traceback."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from greentic_session import EventSourcedSessionStore
from greentic_session.domain.instants import instant_text
from tests.browser.web import (
    ALICE,
    CHAT,
    CROWD,
    Story,
    need,
    populate,
    step_data,
    tell_story,
    traced,
)
from tests.support import FakeClock

need("starlette", "jinja2", "httpx")

from starlette.testclient import TestClient  # noqa: E402

from greentic_session.adapters.web.app import web_app  # noqa: E402

MARK = re.compile(r'<g class="mark ev-(\w+)" data-version="(\d+)">')


@pytest.fixture
def told(store: EventSourcedSessionStore, fake_clock: FakeClock) -> Story:
    story = tell_story(store, fake_clock)
    populate(store, fake_clock)
    return story


@pytest.fixture
def client(store: EventSourcedSessionStore, told: Story) -> Iterator[TestClient]:
    with TestClient(web_app(store), raise_server_exceptions=False) as opened:
        yield opened


def test_the_search_finds_a_tenants_sessions_and_links_each(
    client: TestClient, told: Story
) -> None:
    page = client.get("/", params={"tenant": "tenant-a", "user": "alice"})
    assert page.status_code == 200
    assert page.text.count('<tr>\n    <td class="key">') == 2
    assert f'href="/sessions/{told.refund}"' in page.text
    assert 'class="state state-ended">ended' in page.text


def test_the_search_pages_with_the_cursor_it_was_given(client: TestClient) -> None:
    first = client.get("/", params={"tenant": "tenant-a", "limit": "3"})
    link = re.search(r'href="\?([^"]*after=[^"]*)" id="next-page"', first.text)
    assert link is not None
    second = client.get("/?" + link.group(1).replace("&amp;", "&"))
    keys = re.compile(r'<td class="key"><a href="/sessions/([^"]+)"')
    shown = keys.findall(first.text) + keys.findall(second.text)
    assert len(shown) == 6 and len(set(shown)) == 6


def test_the_search_filters_by_state(client: TestClient, told: Story) -> None:
    page = client.get("/", params={"tenant": "tenant-a", "state": "waiting"})
    waiting = [user for user, *_, end in CROWD if end == "waiting"]
    assert page.text.count('class="state state-waiting"') == len(waiting)


def test_a_session_page_draws_a_marker_for_each_event_with_its_kind(
    client: TestClient, store: EventSourcedSessionStore, told: Story
) -> None:
    page = client.get(f"/sessions/{told.refund}")
    assert page.status_code == 200
    history = store.history(told.refund)
    assert MARK.findall(page.text) == [(e.type.value, str(e.version)) for e in history]
    assert page.text.count('<g class="band life') == 3
    assert "t-1006" in page.text  # the remover's trace, as text


def test_a_short_key_opens_its_session(client: TestClient, told: Story) -> None:
    page = client.get(f"/sessions/{told.refund[:8]}")
    assert page.status_code == 200 and told.refund in page.text


def test_the_diff_page_shows_what_changed_between_two_versions(
    client: TestClient, told: Story
) -> None:
    page = client.get(f"/sessions/{told.refund}/diff", params={"v1": "1", "v2": "5"})
    assert page.status_code == 200
    assert "cursor.node_pointer" in page.text
    assert "ask_order" in page.text and "refund_sent" in page.text


def test_the_scopes_page_explains_a_reply_at_a_past_instant(
    client: TestClient, told: Story
) -> None:
    caller = {"env": ALICE.env, "tenant": ALICE.tenant_id, "team": ALICE.team_id,
              "user": "alice", "conversation": CHAT.conversation, "thread": CHAT.thread}
    before = client.get("/scopes", params={**caller, "at": instant_text(told.waiting_at)})
    after = client.get("/scopes", params={**caller, "at": instant_text(told.taken_at)})
    assert f'resumes <a href="/sessions/{told.refund}">' in before.text
    assert f'resumes <a href="/sessions/{told.survey}">' in after.text
    assert f"was superseded by {told.survey}" in after.text


def test_verify_runs_only_when_asked_and_reports_a_clean_log(client: TestClient) -> None:
    assert 'id="verdict"' not in client.get("/verify").text
    report = client.get("/verify", params={"run": "1"})
    assert 'class="verdict ok"' in report.text and "no problem" in report.text


def test_no_page_writes_to_the_store(
    client: TestClient, store: EventSourcedSessionStore, told: Story
) -> None:
    before = store.verify()
    for path in ("/", "/?tenant=tenant-a", f"/sessions/{told.refund}",
                 f"/sessions/{told.refund}/diff?v1=2&v2=9", "/scopes", "/verify?run=1"):
        assert client.get(path).status_code == 200, path
    after = store.verify()
    assert (after.ok, after.events) == (True, before.events)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/sessions/no-such-session", 404, "not_found"),
        ("/sessions/{refund}/diff?v1=1&v2=99", 400, "invalid_input"),
        ("/?updated_since=yesterday", 400, "invalid_input"),
        ("/?state=sleeping", 400, "invalid_input"),
        ("/?after=not-a-cursor", 400, "invalid_input"),
        ("/scopes?env=dev&tenant=tenant-a&user=alice", 400, "invalid_input"),
        ("/nowhere", 404, "not_found"),
    ],
)
def test_a_failure_is_a_page_with_its_code_and_status_never_a_traceback(
    client: TestClient, told: Story, path: str, status: int, code: str
) -> None:
    page = client.get(path.format(refund=told.refund))
    assert page.status_code == status
    assert f'<span class="code">{code}</span>' in page.text
    assert "Traceback" not in page.text


def test_every_asset_is_served_by_the_app_itself(client: TestClient, told: Story) -> None:
    page = client.get(f"/sessions/{told.refund}").text
    assets = re.findall(r'(?:href|src)="([^"#?]+)"', page)
    assert [a for a in assets if a.startswith(("http:", "https:", "//"))] == []
    assert client.get("/static/style.css").status_code == 200


def test_an_unexpected_error_is_a_500_page_that_says_to_verify(
    client: TestClient, store: EventSourcedSessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("a row no one expected")

    monkeypatch.setattr(store, "verify", broken)
    page = client.get("/verify", params={"run": "1"})
    assert page.status_code == 500
    assert '<span class="code">internal</span>' in page.text
    assert "a row no one expected" in page.text and "run verify" in page.text
    assert "Traceback" not in page.text


def test_a_long_session_is_drawn_and_listed_a_page_of_events_at_a_time(
    store: EventSourcedSessionStore,
) -> None:
    key = store.create_session(ALICE, step_data("start", 0))
    for step in range(1, 150):
        store.update_session(key, step_data("loop", step))
    with TestClient(web_app(store)) as client:
        first = client.get(f"/sessions/{key}")
        second = client.get(f"/sessions/{key}", params={"from": "101"})
    assert [int(v) for _, v in MARK.findall(first.text)] == list(range(1, 101))
    assert [int(v) for _, v in MARK.findall(second.text)] == list(range(101, 151))
    assert 'href="?from=101" id="later-events"' in first.text
    assert 'id="later-events"' not in second.text and 'href="?from=1"' in second.text


def test_an_erased_session_page_shows_each_event_as_erased_and_the_erasure(
    client: TestClient, store: EventSourcedSessionStore, told: Story
) -> None:
    store.erase(session=told.refund, reason="DSR-77", ctx=traced("t-erase"))
    page = client.get(f"/sessions/{told.refund}")
    assert page.status_code == 200
    kinds = [kind for kind, _ in MARK.findall(page.text)]
    assert len(kinds) == told.refund_events + 1 and kinds[-1] == "erased"
    erased = '<span class="erased-note">(content erased)</span>'
    assert page.text.count(erased) == told.refund_events
    assert "DSR-77" in page.text
    assert "ask_order" not in page.text and "refund_sent" not in page.text
    assert 'class="band life' not in page.text and 'class="band wait' not in page.text


def test_verify_lists_each_erasure_with_who_when_and_why(
    client: TestClient, store: EventSourcedSessionStore, told: Story
) -> None:
    store.erase(session=told.refund, reason="DSR-77", ctx=traced("t-erase"))
    report = client.get("/verify", params={"run": "1"})
    assert 'class="verdict ok"' in report.text
    assert 'id="erasures"' in report.text and "DSR-77" in report.text
    assert f'href="/sessions/{told.refund}"' in report.text
