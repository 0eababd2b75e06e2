"""`LogFollower`: every event once, in log order, even when PostgreSQL commits a lower
position after a higher one was read; an idle log is not read again."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from greentic_session.adapters.service.log_follower import SETTLE_SECONDS, LogFollower
from greentic_session.domain.store import AuditedSessionStore


class VisibleLog:
    """What a reader sees of a log: the committed positions, in any order of commit."""

    def __init__(self) -> None:
        self.visible: set[int] = set()
        self.reads = 0

    def log_position(self) -> int:
        return max(self.visible, default=0)

    def events_after(self, position: int, *, limit: int, **filters: Any) -> list[Any]:
        self.reads += 1
        found = sorted(p for p in self.visible if p > position)[:limit]
        return [SimpleNamespace(position=p) for p in found]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def follow(log: VisibleLog, clock: Clock, start: int = 0) -> LogFollower:
    return LogFollower(cast(AuditedSessionStore, log), start, clock=clock, batch=2)


def positions(follower: LogFollower) -> list[int]:
    return [event.position for event in follower.poll()]


def test_each_event_is_returned_once_in_log_order() -> None:
    log, clock = VisibleLog(), Clock()
    follower = follow(log, clock)
    log.visible |= {1, 2, 3}
    assert positions(follower) == [1, 2, 3]
    log.visible |= {4, 5}
    clock.now += 1
    assert positions(follower) == [4, 5]
    assert positions(follower) == []


def test_what_was_logged_before_the_follower_began_is_not_returned() -> None:
    log, clock = VisibleLog(), Clock()
    log.visible |= {1, 2}
    follower = follow(log, clock, start=2)
    log.visible.add(3)
    assert positions(follower) == [3]


def test_a_lower_position_committed_after_a_higher_one_is_still_returned() -> None:
    log, clock = VisibleLog(), Clock()
    follower = follow(log, clock)
    log.visible |= {1, 3}  # 2 drawn first, still uncommitted
    assert positions(follower) == [1, 3]
    clock.now += 1
    log.visible.add(2)
    assert positions(follower) == [2]


def test_an_idle_log_is_not_read_once_its_positions_settled() -> None:
    log, clock = VisibleLog(), Clock()
    follower = follow(log, clock)
    log.visible |= {1, 2, 3}
    positions(follower)
    clock.now += SETTLE_SECONDS + 1
    positions(follower)  # settles what the first poll saw
    reads = log.reads

    assert positions(follower) == []
    assert log.reads == reads
