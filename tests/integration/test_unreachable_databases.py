"""Unreachable or broken databases: opening fails fast as `unavailable`, with the cause
chained, never as a driver error."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from greentic_session import ErrorCode, SessionError
from tests.conftest import open_store
from tests.integration.persistence import CTX
from tests.support import make_data


def open_and_close(url: str) -> BaseException | None:
    """Runs `open_store(url)` in a thread, so a hanging open fails the test instead of the run."""
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            open_store(url).close()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=30)
    if thread.is_alive():
        pytest.fail(f"open_store({url!r}) neither opened nor failed: it must fail fast")
    return outcome[0]


def assert_unavailable(outcome: BaseException | None) -> None:
    assert isinstance(outcome, SessionError), outcome
    assert outcome.code is ErrorCode.UNAVAILABLE
    assert outcome.__cause__ is not None


def test_unreachable_postgres_is_unavailable_with_the_cause_chained() -> None:
    assert_unavailable(open_and_close("postgresql://postgres@127.0.0.1:1/test"))


def test_unreachable_postgres_with_schema_is_unavailable() -> None:
    assert_unavailable(open_and_close("postgresql://postgres@127.0.0.1:1/test?schema=t_missing"))


def test_sqlite_in_a_missing_directory_is_invalid_input_naming_the_folder(tmp_path: Path) -> None:
    """A typo in the path, not an outage: retrying would never help."""
    missing = tmp_path / "no" / "such" / "dir" / "store.db"
    outcome = open_and_close(f"sqlite:///{missing}")
    assert isinstance(outcome, SessionError), outcome
    assert outcome.code is ErrorCode.INVALID_INPUT
    assert str(missing.parent) in outcome.message
    assert not missing.parent.exists()


def test_a_table_dropped_under_a_sqlite_store_is_internal_with_the_cause(tmp_path: Path) -> None:
    """SQLite answered (no such table): the store is broken, not out of reach."""
    path = tmp_path / "broken.db"
    with open_store(f"sqlite:///{path}") as store:
        with sqlite3.connect(path) as raw:
            raw.execute("DROP TABLE gs_session_state")
        with pytest.raises(SessionError) as caught:
            store.get_session("any-key")
    assert caught.value.code is ErrorCode.INTERNAL
    assert "no such table: gs_session_state" in caught.value.message
    assert isinstance(caught.value.__cause__, sqlite3.Error)


def test_a_locked_sqlite_store_is_unavailable(tmp_path: Path) -> None:
    """Another process holds the write lock past the busy timeout: it cannot be had now."""
    path = tmp_path / "locked.db"
    with open_store(f"sqlite:///{path}") as store:
        raw = sqlite3.connect(path, isolation_level=None)
        try:
            raw.execute("BEGIN EXCLUSIVE")
            with pytest.raises(SessionError) as caught:
                store.create_session(CTX, make_data(CTX))
        finally:
            raw.close()
    assert caught.value.code is ErrorCode.UNAVAILABLE
    assert caught.value.__cause__ is not None
