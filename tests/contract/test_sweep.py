"""`sweep_expired`: records the expiry of every session past its deadline."""

from __future__ import annotations

from datetime import timedelta

from greentic_session import AuditedSessionStore, ErrorCode, EventType
from greentic_session.adapters.service.session_operations import SWEEP_BATCH
from tests.contract.audit_helpers import (
    CTX,
    OTHER_SCOPE,
    STEP,
    USER,
    data,
    later,
    raises_invalid,
    wait,
)
from tests.support import FakeClock, make_scope, raises_code


def test_sweep_records_an_expiry_for_each_session_past_its_deadline(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "short", "n1", ttl=timedelta(minutes=1))
    wait(store, "medium", "n1", scope=OTHER_SCOPE, ttl=timedelta(minutes=2))
    wait(store, "long", "n1", scope=make_scope("chat-3"), ttl=timedelta(hours=1))
    store.create_session(CTX, data("no-deadline"))
    swept = later(fake_clock, timedelta(minutes=5))

    assert store.sweep_expired() == 2

    for key, ttl in (("short", timedelta(minutes=1)), ("medium", timedelta(minutes=2))):
        expired = store.history(key)[-1]
        assert expired.type is EventType.WAIT_EXPIRED
        assert expired.recorded_at == swept
        assert expired.expires_at == swept - timedelta(minutes=5) + ttl
        assert expired.data is None
    assert store.history("long")[-1].type is EventType.WAIT_REGISTERED
    assert store.list_waits_for_user(CTX, USER) == ["long"]
    assert store.verify().ok


def test_a_second_sweep_returns_zero(store: AuditedSessionStore, fake_clock: FakeClock) -> None:
    wait(store, "short", "n1", ttl=timedelta(minutes=1))
    later(fake_clock, timedelta(minutes=5))
    assert store.sweep_expired() == 1

    assert store.sweep_expired() == 0
    assert [e.type for e in store.history("short")].count(EventType.WAIT_EXPIRED) == 1


def test_sweep_skips_an_expiry_a_write_already_recorded(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "short", "n1", ttl=timedelta(minutes=1))
    later(fake_clock, timedelta(minutes=5))
    with raises_code(ErrorCode.NOT_FOUND):
        store.update_session("short", data("n2"))  # meets the expiry and records it

    assert store.sweep_expired() == 0
    assert [e.type for e in store.history("short")].count(EventType.WAIT_EXPIRED) == 1


def test_sweep_at_a_past_instant_expires_only_what_was_due_then(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    start = fake_clock.now
    wait(store, "short", "n1", ttl=timedelta(minutes=1))
    wait(store, "medium", "n1", scope=OTHER_SCOPE, ttl=timedelta(minutes=10))
    later(fake_clock, timedelta(minutes=20))

    assert store.sweep_expired(now=start + timedelta(minutes=5)) == 1
    assert store.history("short")[-1].recorded_at == start + timedelta(minutes=5)
    assert store.history("medium")[-1].type is EventType.WAIT_REGISTERED
    assert store.sweep_expired() == 1


def test_sweep_with_nothing_due_returns_zero(store: AuditedSessionStore) -> None:
    wait(store, "long", "n1", ttl=timedelta(hours=1))
    store.create_session(CTX, data("no-deadline"))

    assert store.sweep_expired() == 0


def test_sweep_at_an_instant_later_than_the_clock_is_invalid_input(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    with raises_invalid():
        store.sweep_expired(now=fake_clock.now + STEP)


def test_sweep_at_a_naive_datetime_is_invalid_input(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    with raises_invalid():
        store.sweep_expired(now=fake_clock.now.replace(tzinfo=None))


def test_sweep_expires_more_sessions_than_one_transaction_takes(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    due = SWEEP_BATCH * 2 + 1
    for n in range(due):
        wait(store, f"s{n}", "n1", scope=make_scope(f"chat-{n}"), ttl=timedelta(minutes=1))
    later(fake_clock, timedelta(minutes=5))

    assert store.sweep_expired() == due

    assert store.list_waits_for_user(CTX, USER) == []
    assert all(store.history(f"s{n}")[-1].type is EventType.WAIT_EXPIRED for n in range(due))


def test_sweep_reports_the_sessions_done_out_of_those_due(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    due = SWEEP_BATCH + 1
    for n in range(due):
        wait(store, f"s{n}", "n1", scope=make_scope(f"chat-{n}"), ttl=timedelta(minutes=1))
    later(fake_clock, timedelta(minutes=5))
    calls: list[tuple[int, int | None]] = []

    store.sweep_expired(progress=lambda done, of: calls.append((done, of)))

    assert calls[0] == (SWEEP_BATCH, due)
    assert calls[-1] == (due, due)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
