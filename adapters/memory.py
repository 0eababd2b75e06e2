"""`memory://`: the library's in-memory (POPO) log with dict read models, for tests and demos."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder

from adapters.application import SessionLog, read_model_changes
from adapters.event_store import Clock, EventSourcedSessionStore
from projections.read_models import MemoryReadModels, ScopeTaken


class MemorySessionRecorder(POPOApplicationRecorder):
    """Applies read-model changes under the recorder's lock, with the append."""

    def __init__(self) -> None:
        super().__init__()
        self.read_models = MemoryReadModels()

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        try:
            self.read_models.check(read_model_changes(kwargs))
        except ScopeTaken as exc:
            raise IntegrityError(f"scope {exc} is held by another session") from exc

    def _update_table(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.read_models.apply(read_model_changes(kwargs))
        return super()._update_table(stored_events, **kwargs)


class MemorySessionLog(SessionLog):
    def construct_recorder(self) -> ApplicationRecorder:
        return MemorySessionRecorder()


def open_memory_store(clock: Clock | None = None) -> EventSourcedSessionStore:
    log = MemorySessionLog({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    recorder = log.recorder
    assert isinstance(recorder, MemorySessionRecorder)
    return EventSourcedSessionStore(log, recorder.read_models, clock=clock)
