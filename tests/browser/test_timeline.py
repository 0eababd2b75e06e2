"""How a session's history becomes a picture: its lives and waits, how each ended, and a
step on the axis for every event (no web framework needed)."""

from __future__ import annotations

from datetime import timedelta

from greentic_session import open_store
from greentic_session.adapters.web.stories import lives_of, waits_of
from greentic_session.adapters.web.timeline import draw
from tests.browser.web import CHAT, START, step_data, tell_story, traced
from tests.support import FakeClock


def test_each_life_ends_with_the_event_that_ended_it() -> None:
    clock = FakeClock()
    with open_store("memory://", clock=clock) as store:
        story = tell_story(store, clock)
        events = store.history(story.refund)
    lives = lives_of(events, clock.now)
    assert [life.ending for life in lives] == ["wait_expired", "wait_cleared", "removed"]


def test_a_wait_ends_with_its_supersession_and_names_who_took_the_scope() -> None:
    clock = FakeClock()
    with open_store("memory://", clock=clock) as store:
        story = tell_story(store, clock)
        events = store.history(story.refund)
    first = waits_of(events, clock.now)[0]
    assert first.ending == "wait_superseded" and f"superseded by {story.survey}" in first.tip


def test_a_deadline_that_passed_unrecorded_ends_the_life_and_the_wait_at_it() -> None:
    clock = FakeClock(START)
    with open_store("memory://", clock=clock) as store:
        key = store.create_session(traced("t-1"), step_data("ask", 1))
        store.register_wait(traced("t-2"), "alice", CHAT, key, step_data("wait", 1),
                            ttl=timedelta(minutes=5))
        events = store.history(key)
    later = START + timedelta(hours=1)
    (life,) = lives_of(events, later)
    (wait,) = waits_of(events, later)
    assert (life.end, life.ending) == (START + timedelta(minutes=5), "deadline passed")
    assert (wait.end, wait.ending) == (START + timedelta(minutes=5), "deadline passed")
    assert (lives_of(events, START)[0].end, waits_of(events, START)[0].end) == (None, None)


def test_events_of_one_instant_get_a_step_each_in_version_order() -> None:
    clock = FakeClock(START)
    with open_store("memory://", clock=clock) as store:
        story = tell_story(store, clock)
        events = store.history(story.refund)
    picture = draw(events, events, clock.now)
    xs = [mark.x for mark in picture.marks]
    assert [mark.version for mark in picture.marks] == [e.version for e in events]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
