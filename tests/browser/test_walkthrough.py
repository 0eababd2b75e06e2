"""An operator's walk through the app in a real browser (Debian's Chromium): find a session,
open it, read its timeline, compare two versions, explain where a past reply went, and
see verify name a row edited behind the store's back. Each page is photographed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from greentic_session import open_store
from greentic_session.domain.instants import instant_text
from tests.browser.web import ALICE, CHAT, CROWD, Story, need, populate, served, tell_story
from tests.integration.tamper import _sqlite_tables
from tests.support import FakeClock

need("starlette", "jinja2", "uvicorn", "playwright")
pytestmark = pytest.mark.browser


@pytest.fixture
def story_url(tmp_path: Path) -> tuple[str, Story]:
    url = f"sqlite:///{tmp_path / 'story.db'}"
    clock = FakeClock()
    with open_store(url, clock=clock) as store:
        story = tell_story(store, clock)
        populate(store, clock)
    return url, story


def shoot(page: Any, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_operator_walks_from_a_search_to_a_tampered_row(
    story_url: tuple[str, Story], page: Any, screenshots: Path
) -> None:
    url, story = story_url
    with open_store(url, create=False) as store, served(store) as base:
        page.goto(f"{base}/")
        page.fill("input[name=tenant]", "tenant-a")
        page.click("#search button[type=submit]")
        results = page.locator("#results tbody tr")
        assert results.count() == 2 + len(CROWD)
        assert story.refund[:8] in page.inner_text("#results")
        shoot(page, screenshots, "search")

        page.click(f"#results a[title='{story.refund}']")
        assert story.refund in page.inner_text("h1")
        marks = page.locator("#timeline .mark")
        assert marks.count() == story.refund_events
        versions = [marks.nth(i).get_attribute("data-version") for i in range(marks.count())]
        assert versions == [str(v) for v in range(1, story.refund_events + 1)]
        history = store.history(story.refund)
        for event in history:  # each event: its marker, with its kind, actor and trace
            mark = page.locator(f"#timeline .mark[data-version='{event.version}']")
            assert f"ev-{event.type.value}" in (mark.get_attribute("class") or "")
            tip = mark.locator("title").text_content() or ""
            assert f"actor: {event.actor}" in tip and f"trace: {event.trace_id or '-'}" in tip
        assert page.locator("#timeline .life").count() == 3
        assert "superseded by survey-" in (page.text_content("#timeline") or "")
        shoot(page, screenshots, "session")

        page.fill("#diff-form input[name=v1]", "1")
        page.fill("#diff-form input[name=v2]", "5")
        page.click("#diff-form button")
        changes = page.inner_text("#changes")
        assert "cursor.node_pointer" in changes
        assert "ask_order" in changes and "refund_sent" in changes
        assert "/step" in page.inner_text("#patch")
        shoot(page, screenshots, "diff")

        page.goto(f"{base}/scopes")
        for name, value in (("env", ALICE.env), ("tenant", ALICE.tenant_id),
                            ("team", ALICE.team_id or ""), ("user", "alice"),
                            ("conversation", CHAT.conversation), ("thread", CHAT.thread or ""),
                            ("at", instant_text(story.taken_at))):
            page.fill(f"#explain input[name={name}]", value)
        page.click("#explain button")
        answer = page.inner_text("#answer")
        assert f"resumes {story.survey}" in answer
        assert f"was superseded by {story.survey}" in page.inner_text("#trail")
        assert "the reply arrives here" in page.inner_text("#reply")
        shoot(page, screenshots, "scopes")

        raw = _sqlite_tables(url.removeprefix("sqlite:///"))
        topic, state = raw.event(story.refund, 2)
        raw.set_event(story.refund, 2, topic, state.replace(b"check_order", b"check_0rder"))
        page.goto(f"{base}/verify")
        assert page.locator("#problems").count() == 0  # nothing runs until asked
        page.click("#run-verify")
        problems = page.inner_text("#problems")
        assert f"{story.refund} v2" in problems and "altered" in problems
        shoot(page, screenshots, "verify")
