"""The long audit operations report their progress: `verify` and `rebuild_projections`
call the callback, last with every event done, on every backend."""

from __future__ import annotations

from greentic_session import AuditedSessionStore
from tests.support import make_ctx, make_data

CTX = make_ctx(user="alice")


def _fill(store: AuditedSessionStore) -> None:
    """Six events: three sessions, each created and updated."""
    for _ in range(3):
        key = store.create_session(CTX, make_data(CTX))
        store.update_session(key, make_data(CTX, node="node.next"))


def test_verify_reports_its_progress_ending_with_every_event(store: AuditedSessionStore) -> None:
    _fill(store)
    calls: list[tuple[int, int | None]] = []

    report = store.verify(progress=lambda done, total: calls.append((done, total)))

    assert report.ok
    assert calls
    assert calls[-1] == (report.events, report.events) == (6, 6)


def test_rebuild_reports_its_progress_ending_with_every_event(store: AuditedSessionStore) -> None:
    _fill(store)
    calls: list[tuple[int, int | None]] = []

    store.rebuild_projections(progress=lambda done, total: calls.append((done, total)))

    assert calls[-1] == (6, 6)
    assert store.verify().ok
