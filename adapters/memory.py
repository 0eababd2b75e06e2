"""`memory://`: the library's in-memory (POPO) log with dict read models, for tests and demos."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder

from adapters.application import SessionLog, read_model_changes
from adapters.event_store import EventSourcedSessionStore
from domain.rules import Clock
from domain.state import SessionState
from projections.read_models import MemoryReadModels, ScopeTaken, StoredData, WaitEntry


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


class LockedReader:
    """Reads under the recorder's lock: a write's changes are seen all at once or not at all."""

    def __init__(self, recorder: MemorySessionRecorder) -> None:
        self._lock = recorder._database_lock
        self._models = recorder.read_models

    def session_state(self, session_key: str) -> SessionState | None:
        with self._lock:
            return self._models.session_state(session_key)

    def session_data(self, session_key: str) -> StoredData | None:
        with self._lock:
            return self._models.session_data(session_key)

    def scope_entry(self, scope_key: str) -> WaitEntry | None:
        with self._lock:
            return self._models.scope_entry(scope_key)

    def user_waits(self, user_key: str) -> list[WaitEntry]:
        with self._lock:
            return self._models.user_waits(user_key)

    def load_all(self) -> MemoryReadModels:
        with self._lock:
            return self._models.load_all()


class MemorySessionLog(SessionLog):
    def construct_recorder(self) -> ApplicationRecorder:
        return MemorySessionRecorder()


def open_memory_store(clock: Clock | None = None) -> EventSourcedSessionStore:
    log = MemorySessionLog({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    recorder = log.recorder
    assert isinstance(recorder, MemorySessionRecorder)
    return EventSourcedSessionStore(log, LockedReader(recorder), clock=clock)
