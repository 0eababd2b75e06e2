"""Unit tests of the hash-chain rule (`domain.chain`): the one checker that verify,
export and import share, fed stand-in events so that each break is made on purpose."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from greentic_session import SessionCursor, SessionData, SessionKey, TenantCtx
from greentic_session.domain.aggregate import Session
from greentic_session.domain.chain import (
    GENESIS,
    Break,
    BrokenChain,
    ChainCheck,
    ChainProblem,
    StreamChain,
)
from greentic_session.domain.operation import Operation

STREAM = UUID("00000000-0000-4000-8000-000000000001")


@dataclass(frozen=True)
class Link:
    """An event as the chain sees it; `content` stands for the hash its content has now."""

    originator_version: int
    prev_hash: str
    hash: str
    content: str | None = None
    originator_id: UUID = STREAM

    def content_hash(self) -> str:
        return self.hash if self.content is None else self.content


def sound(count: int, stream: UUID = STREAM) -> list[Link]:
    """`count` events, each linked to the one before it, the first to GENESIS."""
    hashes = [GENESIS] + [f"h{version}" for version in range(1, count + 1)]
    return [Link(v, hashes[v - 1], hashes[v], originator_id=stream) for v in range(1, count + 1)]


def followed(events: list[Link]) -> list[list[ChainProblem]]:
    chain = StreamChain()
    return [chain.follow(event) for event in events]


def test_a_sound_stream_has_no_problems() -> None:
    assert followed(sound(3)) == [[], [], []]


def test_the_first_event_must_link_to_genesis() -> None:
    assert followed([Link(1, "h0", "h1")]) == [[ChainProblem(Break.UNLINKED, 0)]]


def test_an_event_linked_to_another_than_the_previous_is_unlinked() -> None:
    first, second = sound(2)
    problems = followed([first, replace(second, prev_hash="forged")])
    assert problems[1] == [ChainProblem(Break.UNLINKED, 1)]


def test_a_version_that_skips_ahead_is_missing_events_after_the_last_seen() -> None:
    first, _, _, fourth = sound(4)
    assert followed([first, fourth])[1] == [ChainProblem(Break.MISSING, 1)]


def test_a_version_the_stream_already_reached_is_reordered() -> None:
    first, second = sound(2)
    assert followed([first, second, first])[2] == [ChainProblem(Break.REORDERED, 2)]


def test_content_that_does_not_hash_to_its_hash_is_altered() -> None:
    (first,) = sound(1)
    assert followed([replace(first, content="other")]) == [[ChainProblem(Break.ALTERED, 0)]]


def test_an_altered_event_out_of_place_reports_the_link_first() -> None:
    first, second = sound(2)
    problems = followed([first, replace(second, prev_hash="x", content="y")])[1]
    assert [problem.kind for problem in problems] == [Break.UNLINKED, Break.ALTERED]


def test_after_a_break_the_next_event_is_checked_against_the_broken_one() -> None:
    first, second, third = sound(3)
    problems = followed([first, replace(second, prev_hash="x"), third])
    assert problems[2] == []


def test_the_chain_head_is_the_highest_version_and_the_last_hash() -> None:
    chain = StreamChain()
    for event in sound(2):
        chain.follow(event)
    assert (chain.version, chain.hash) == (2, "h2")


def test_a_skipped_unreadable_event_counts_its_place_but_not_its_hash() -> None:
    first, second, third = sound(3)
    chain = StreamChain()
    chain.follow(first)
    chain.skip(second.originator_version)
    assert chain.follow(third) == [ChainProblem(Break.UNLINKED, 2)]


def test_the_events_a_session_records_form_a_sound_chain() -> None:
    ctx = TenantCtx.new("dev", "tenant-a")
    data = SessionData(
        tenant_ctx=ctx, flow_id="f", cursor=SessionCursor(node_pointer="n"), context_json="{}"
    )
    op = Operation(datetime(2030, 1, 1, tzinfo=UTC))
    session = Session.start(ctx, SessionKey("k"), data, op)
    session.update(data, op)
    session.remove(op)
    events = [event for event in session.collect_events() if isinstance(event, Session.Event)]
    chain = StreamChain()
    assert [chain.follow(event) for event in events] == [[], [], []]


def test_chain_check_accepts_interleaved_sound_streams() -> None:
    other = uuid4()
    check = ChainCheck()
    for pair in zip(sound(3), sound(3, other), strict=True):
        for event in pair:
            check.check(event)


def test_chain_check_names_an_event_that_does_not_follow_the_last_accepted() -> None:
    first, _, third = sound(3)
    check = ChainCheck()
    check.check(first)
    with pytest.raises(BrokenChain, match=rf"^{STREAM} v3 does not follow v1$"):
        check.check(third)


def test_chain_check_names_an_event_that_does_not_match_its_hash() -> None:
    (first,) = sound(1)
    with pytest.raises(BrokenChain, match=rf"^{STREAM} v1 does not match its hash$"):
        ChainCheck().check(replace(first, content="other"))


def test_chain_check_reports_a_broken_link_before_altered_content() -> None:
    (first,) = sound(1)
    with pytest.raises(BrokenChain, match=r"does not follow v0$"):
        ChainCheck().check(replace(first, prev_hash="x", content="y"))


def test_a_broken_chain_is_a_value_error() -> None:
    """Export's damaged-log handling catches it as one, and names its type."""
    assert issubclass(BrokenChain, ValueError)
