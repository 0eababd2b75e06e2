"""PostgreSQL's long audit operations choose their own timeouts: a pause longer than the
pool's idle-in-transaction timeout (the library's 5 s) inside `verify` or a rebuild does
not end them, and the URL option `long_operation_timeout` sets the limit they get."""

from __future__ import annotations

import time

import pytest

from greentic_session import AuditedSessionStore, SessionError, open_store
from greentic_session.domain.progress import Progress
from tests.support import make_ctx, make_data

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

CTX = make_ctx(user="alice")
LIBRARY_IDLE_TIMEOUT = 5.0


def _pause(seconds: float) -> Progress:
    """A progress callback that stalls once, at the end, inside the open transaction."""

    def progress(done: int, total: int | None) -> None:
        if done == total:
            time.sleep(seconds)

    return progress


def test_verify_outlives_the_idle_in_transaction_timeout(store: AuditedSessionStore) -> None:
    store.create_session(CTX, make_data(CTX))

    report = store.verify(progress=_pause(LIBRARY_IDLE_TIMEOUT + 1.5))

    assert report.ok, report.problems


def test_rebuild_outlives_the_idle_in_transaction_timeout(store: AuditedSessionStore) -> None:
    store.create_session(CTX, make_data(CTX))

    store.rebuild_projections(progress=_pause(LIBRARY_IDLE_TIMEOUT + 1.5))

    assert store.verify().ok


def test_the_url_option_sets_the_long_operations_limit(
    store: AuditedSessionStore, store_url: str
) -> None:
    store.create_session(CTX, make_data(CTX))

    with (
        open_store(f"{store_url}&long_operation_timeout=1") as limited,
        pytest.raises(SessionError),
    ):
        limited.verify(progress=_pause(2.5))
