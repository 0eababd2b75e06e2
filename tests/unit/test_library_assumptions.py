"""What the store assumes of the eventsourcing library, needing no database or store file.

The version range of the library, and assumptions 6 (keyword arguments ride along to the
recorder), 7 (POPO positions), 8 (the public constructor) and 9 (snapshots), as numbered in
`adapters/storage/library_seams.py`, plus the fields of the Created event; each test fails
naming its assumption and seam, so an upgrade of the library that breaks one says which,
and where to look. Assumptions 1 to 5 need SQLite files or PostgreSQL and are checked in
`tests/integration/test_library_assumptions_sqlite.py` and
`tests/integration/test_library_assumptions_postgres.py`; the helpers shared with those are
in `tests/library_assumptions.py`. That no module but the seam touches a
private name of the library is checked in `tests/unit/test_library_private_names.py`.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import re
import tomllib
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, EventStore, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from greentic_session.adapters.storage.session_log import READ_MODEL_CHANGES, SessionLog
from greentic_session.domain.aggregate import Session
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.operation import Operation
from greentic_session.domain.state import stream_id
from tests.library_assumptions import CTX, DATA, NOW, broken, stored

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
"""Beside `tests/` in a checkout, and in the copy CI runs against the installed wheel."""
LIBRARY_RANGE = ">=9.5.6,<9.6"
"""The range the seams were written and checked against. Widen it in pyproject.toml and
here only once these tests pass on the new versions."""


# -- the version range ----------------------------------------------------------------------


def test_the_installed_library_is_inside_the_range_in_pyproject() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    specs = [d for d in project["dependencies"] if re.match(r"eventsourcing\b", d)]
    assert len(specs) == 1, f"pyproject.toml names eventsourcing once, not {specs}"
    spec = SpecifierSet(specs[0].removeprefix("eventsourcing").strip())
    assert spec == SpecifierSet(LIBRARY_RANGE), (
        f"pyproject.toml asks for eventsourcing{spec}, but the seams in library_seams.py "
        f"were checked against {LIBRARY_RANGE}: run these tests on the new versions, then "
        "update LIBRARY_RANGE here"
    )
    installed = Version(importlib.metadata.version("eventsourcing"))
    assert installed in spec, f"eventsourcing {installed} is installed, outside {spec}"


# -- 6. keyword arguments ride along ---------------------------------------------------------


class KeywordSpy(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.seen.append(kwargs)
        return super().insert_events(stored_events, **kwargs)


def test_event_store_put_hands_its_keyword_arguments_to_the_recorder() -> None:
    log = SessionLog({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    spy = KeywordSpy()
    store = EventStore(mapper=log.mapper, recorder=spy)
    session = Session.start(CTX, SessionKey("k1"), DATA, Operation(NOW))
    changes: list[object] = [object()]
    store.put(session.collect_events(), **{READ_MODEL_CHANGES: changes})
    assert len(spy.seen) == 1 and spy.seen[0].get(READ_MODEL_CHANGES) is changes, broken(
        6, "EventStore.put, used by unit_of_work", f"the recorder got {spy.seen}"
    )


# -- 7. POPO positions -----------------------------------------------------------------------


def test_popo_insert_events_returns_the_positions() -> None:
    seam = "memory.MemorySessionRecorder"
    recorder: ApplicationRecorder = POPOApplicationRecorder()
    first, second = uuid.uuid4(), uuid.uuid4()
    assert recorder.insert_events([stored(first, 1), stored(second, 1)]) == [1, 2], broken(
        7, seam, "insert_events returns no positions"
    )
    assert recorder.insert_events([stored(first, 2)]) == [3], broken(7, seam, "positions")
    (notification,) = recorder.select_notifications(3, 1)
    assert (notification.id, notification.originator_id) == (3, first), broken(
        7, seam, "select_notifications(start, limit) does not start at the position"
    )
    assert recorder.max_notification_id() == 3


# -- 8. the public constructor ---------------------------------------------------------------


class Thing(Aggregate):
    """An aggregate whose id, like a session's, derives from its key."""

    def __init__(self, key: str, *, note: str) -> None:
        self.key = key
        self.note = note

    @staticmethod
    def create_id(key: str) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, key)


def test_calling_the_aggregate_class_triggers_its_created_event() -> None:
    seam = "Session.start (domain/aggregate.py)"
    thing = Thing(key="a", note="n")
    (created,) = thing.pending_events
    assert isinstance(created, Thing.Created), broken(8, seam, "no created event")
    assert (created.originator_version, thing.version) == (1, 1), broken(8, seam, "version")
    assert thing.id == Thing.create_id("a"), broken(8, seam, "the id is not create_id's")
    assert (getattr(created, "key", None), getattr(created, "note", None)) == ("a", "n")
    with pytest.raises(TypeError):
        Thing(key="a", note="n", other=1)  # type: ignore[call-arg]

    session = Session.start(CTX, SessionKey("k1"), DATA, Operation(NOW, {"trace_id": "t"}))
    (event,) = session.pending_events
    assert isinstance(event, Session.Created), broken(8, seam, "Session.start: no Created")
    assert session.id == event.originator_id == stream_id("k1"), broken(
        8, seam, "Session.start lands on another stream than its key's"
    )
    assert (event.timestamp, event.trace, event.hash) == (
        NOW,
        {"trace_id": "t"},
        session.head_hash,
    ), broken(8, seam, "the created event lost the envelope it was given")
    assert event.content_hash() == event.hash


# -- 9. snapshots ----------------------------------------------------------------------------


def test_snapshots_rebuild_an_aggregate_from_a_state() -> None:
    seam = "Session.restore (domain/aggregate.py)"
    thing = Thing(key="a", note="n")
    state = Aggregate.Snapshot.take(thing).state
    assert {"key", "note"} <= set(state), broken(9, seam, "the snapshot lacks attributes")
    assert not {"id", "_id", "version", "_version", "_pending_events"} & set(state), broken(
        9, seam, f"the snapshot's state holds id, version or pending events: {sorted(state)}"
    )
    rebuilt = Aggregate.Snapshot(
        originator_id=thing.id,
        originator_version=7,
        timestamp=NOW,
        topic=f"{__name__}:Thing",
        state={**state, "note": "changed"},
    ).mutate(None)
    assert isinstance(rebuilt, Thing), broken(9, seam, "mutate(None) built no aggregate")
    assert (rebuilt.id, rebuilt.version, rebuilt.note) == (thing.id, 7, "changed"), broken(
        9, seam, "mutate(None) did not take the snapshot's id, version and state"
    )
    assert rebuilt.pending_events == [], broken(9, seam, "a rebuilt aggregate has events")


def test_a_restored_session_is_the_replayed_one() -> None:
    seam = "Session.restore (domain/aggregate.py)"
    op = Operation(NOW)
    session = Session.start(CTX, SessionKey("k1"), DATA, op)
    session.update(DATA, op)
    replayed: Any = None
    for event in session.collect_events():
        replayed = event.mutate(replayed)
    restored = Session.restore(session.state())
    assert restored.state() == session.state() == replayed.state()
    assert (restored.id, restored.version, restored.pending_events) == (session.id, 2, []), broken(
        9, seam, "restored at another id or version, or with pending events"
    )
    assert sorted(vars(restored)) == sorted(vars(replayed)), broken(
        9, seam, "a restored session has other attributes than a replayed one"
    )
    restored.update(DATA, op)
    (event,) = restored.pending_events
    assert event.originator_version == 3 and getattr(event, "prev_hash", None) == (
        session.head_hash
    ), broken(9, seam, "a restored session does not continue its stream")


def test_dataclass_fields_of_the_created_event_stay_what_the_log_holds() -> None:
    """The Created event's fields are what the log holds (0.1.0's, and since erasure the
    salt and commitment): naming the envelope in `__init__` (for the public constructor,
    assumption 8) added none."""
    assert [f.name for f in dataclasses.fields(Session.Created)] == [
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
        "trace",
        "prev_hash",
        "hash",
        "salt",
        "commitment",
        "session_key",
        "data",
    ]
