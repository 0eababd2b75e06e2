"""Who ended a session: `remove_session(key, ctx=...)` and `sweep_expired(ctx=...)` record
the caller's actor and trace ids on the `removed` and `wait_expired` events, as every other
write does, and `history` shows them."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest

from greentic_session import AuditedSessionStore, EventType, TenantCtx
from tests.conftest import open_store
from tests.contract.audit_helpers import CTX, OTHER_SCOPE, TTL, data, raises_invalid, wait
from tests.contract.helpers import raises_not_found
from tests.support import FakeClock, make_ctx

OPERATOR = make_ctx(user="ops-bob").model_copy(
    update={"trace_id": "t-cleanup", "correlation_id": "c-7", "provider_id": "p-admin"}
)
"""Someone other than the session's user, from another tenant even: the context says who
asked, it is not a right to the session."""


def who(store: AuditedSessionStore, key: str) -> tuple[object, ...]:
    last = store.history(key)[-1]
    return (last.type, last.actor, last.trace_id, last.correlation_id, last.provider_id)


def test_remove_session_records_the_callers_actor_and_trace_ids(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data("n1"))

    store.remove_session(key, ctx=OPERATOR)

    assert who(store, key) == (EventType.REMOVED, "ops-bob", "t-cleanup", "c-7", "p-admin")
    assert store.get_session(key) is None


def test_a_caller_context_without_a_user_records_its_trace_and_no_actor(
    store: AuditedSessionStore,
) -> None:
    key = store.create_session(CTX, data("n1"))
    service = TenantCtx.new("dev", "tenant-a").model_copy(update={"trace_id": "t-job"})

    store.remove_session(key, ctx=service)

    assert who(store, key) == (EventType.REMOVED, None, "t-job", None, None)


def test_sweep_records_the_callers_actor_and_trace_ids_on_each_expiry(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "a", "n1", ttl=TTL)
    wait(store, "b", "n1", scope=OTHER_SCOPE, ttl=TTL)
    fake_clock.advance(TTL)

    assert store.sweep_expired(ctx=OPERATOR) == 2

    for key in ("a", "b"):
        assert who(store, key) == (EventType.WAIT_EXPIRED, "ops-bob", "t-cleanup", "c-7", "p-admin")


def test_an_expiry_a_traced_removal_meets_carries_the_removers_trace(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "k", "n1", ttl=TTL)
    fake_clock.advance(TTL)

    with raises_not_found("k"):
        store.remove_session("k", ctx=OPERATOR)

    assert who(store, "k") == (EventType.WAIT_EXPIRED, "ops-bob", "t-cleanup", "c-7", "p-admin")


def test_traced_removals_and_expiries_verify_and_survive_export_and_import(
    store: AuditedSessionStore, fake_clock: FakeClock, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Their trace is part of what each event's hash covers: a copy keeps hashes and trace."""
    key = store.create_session(CTX, data("n1"))
    store.remove_session(key, ctx=OPERATOR)
    wait(store, "k", "n1", ttl=TTL)
    fake_clock.advance(TTL)
    store.sweep_expired(ctx=OPERATOR)
    assert store.verify().ok
    dump = StringIO()
    store.export_events(dump)
    dump.seek(0)
    copy_url = f"sqlite:///{tmp_path_factory.mktemp('copy') / 'copy.db'}"

    with open_store(copy_url) as copy:
        assert copy.import_events(dump) == 5
        assert copy.verify().ok
        for name in (key, "k"):
            assert [e.model_dump(exclude={"position"}) for e in copy.history(name)] == [
                e.model_dump(exclude={"position"}) for e in store.history(name)
            ]


@pytest.mark.parametrize("bad", ["ops-bob", {"user": "ops-bob"}, 1])
def test_remove_session_with_a_ctx_that_is_not_a_tenant_ctx_is_invalid_input_and_writes_nothing(
    store: AuditedSessionStore, bad: object
) -> None:
    key = store.create_session(CTX, data("n1"))

    with raises_invalid():
        store.remove_session(key, ctx=bad)  # type: ignore[arg-type]

    assert store.get_session(key) == data("n1")
    assert len(store.history(key)) == 1


def test_sweep_with_a_ctx_that_is_not_a_tenant_ctx_is_invalid_input_and_writes_nothing(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    wait(store, "k", "n1", ttl=timedelta(minutes=1))
    fake_clock.advance(timedelta(minutes=1))

    with raises_invalid():
        store.sweep_expired(ctx="ops-bob")  # type: ignore[arg-type]

    assert store.history("k")[-1].type is EventType.WAIT_REGISTERED
