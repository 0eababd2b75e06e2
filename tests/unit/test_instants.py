"""`instant_text`: the one way instants are written for people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from greentic_session.domain.instants import instant_text


def test_an_instant_is_written_in_utc_to_the_microsecond_with_z() -> None:
    moment = datetime(2025, 1, 1, 13, 5, tzinfo=timezone(timedelta(hours=1)))
    assert instant_text(moment) == "2025-01-01T12:05:00.000000Z"
    assert instant_text(moment + timedelta(microseconds=7)) == "2025-01-01T12:05:00.000007Z"


def test_an_instant_before_year_1_in_utc_keeps_its_own_offset() -> None:
    moment = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23)))
    assert instant_text(moment) == "0001-01-01T00:00:00.000000+23:00"


def test_the_text_reads_back_as_the_same_instant() -> None:
    moment = datetime(2030, 6, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert datetime.fromisoformat(instant_text(moment)) == moment
