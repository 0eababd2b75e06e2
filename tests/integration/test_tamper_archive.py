"""Tamper evidence through an archive: a tombstone edited or deleted directly in the SQLite
or PostgreSQL tables is named by `verify`, whether its stream has events after it or none."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from greentic_session import AuditedSessionStore
from tests.conftest import PERSISTENT_BACKENDS
from tests.integration.tamper import CTX, SCOPE_A, USER, RawTables, assert_named
from tests.support import FakeClock, make_data

pytestmark = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)

ARCHIVED, REVIVED = "archived-only", "revived"


@pytest.fixture
def archived(store: AuditedSessionStore, fake_clock: FakeClock, raw: RawTables) -> RawTables:
    """`archived-only`: 2 events, archived. `revived`: 2 events archived, then a new life
    (v3 and on)."""
    for key in (ARCHIVED, REVIVED):
        store.register_wait(CTX, USER, SCOPE_A, key, make_data(CTX))  # v1 created, v2 waits
        store.remove_session(key)  # v3
    fake_clock.advance(timedelta(minutes=1))
    assert store.archive(ended_before=fake_clock.now, to=io.StringIO()).streams == 2
    store.register_wait(CTX, USER, SCOPE_A, REVIVED, make_data(CTX))
    assert store.verify().ok
    return raw


def test_an_altered_tombstone_hash_of_a_stream_without_events_is_named(
    store: AuditedSessionStore, archived: RawTables
) -> None:
    archived.set_tombstone(ARCHIVED, "last_hash", "0" * 64)
    assert_named(store.verify(), ARCHIVED, "tombstone", "altered")


def test_an_altered_tombstone_hash_before_a_new_life_is_named(
    store: AuditedSessionStore, archived: RawTables
) -> None:
    archived.set_tombstone(REVIVED, "last_hash", "0" * 64)
    assert_named(store.verify(), REVIVED, "v4", "does not follow the tombstone")


def test_a_deleted_tombstone_of_a_stream_without_events_is_named(
    store: AuditedSessionStore, archived: RawTables
) -> None:
    archived.delete_tombstone(ARCHIVED)
    assert_named(store.verify(), ARCHIVED, "stream missing from the log")


def test_a_deleted_tombstone_before_a_new_life_is_a_gap(
    store: AuditedSessionStore, archived: RawTables
) -> None:
    archived.delete_tombstone(REVIVED)
    assert_named(store.verify(), REVIVED, "v1..v3 missing")


def test_a_tombstone_over_events_still_in_the_log_is_named(
    store: AuditedSessionStore, archived: RawTables
) -> None:
    archived.set_tombstone(REVIVED, "last_version", 4)
    assert_named(store.verify(), REVIVED, "v4", "still in the log")


def test_a_tombstone_moved_back_leaves_a_gap(
    store: AuditedSessionStore, archived: RawTables
) -> None:
    archived.set_tombstone(REVIVED, "last_version", 2)
    report = store.verify()
    assert_named(report, REVIVED, "v3 missing")
    assert_named(report, REVIVED, "tombstone altered")


def test_an_altered_tombstone_count_is_named(
    store: AuditedSessionStore, archived: RawTables
) -> None:
    archived.set_tombstone(ARCHIVED, "events", 7)
    assert_named(store.verify(), ARCHIVED, "counts 7 events", "tombstone altered")
