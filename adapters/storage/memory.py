"""`memory://`: the library's in-memory (POPO) log with dict read models, for tests and demos."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder

from greentic_session.adapters.storage.log_access import BuildReadModels
from greentic_session.adapters.storage.session_log import OpenedLog, SessionLog, read_model_changes
from greentic_session.domain.state import SessionState
from greentic_session.projections.read_models import (
    MemoryReadModels,
    ScopeTaken,
    StoredData,
    WaitEntry,
)


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

    def stream_notifications(self, stream: UUID) -> list[Notification]:
        with self._database_lock:
            rows = self._stored_events_index.get(str(stream), {})
            return [self._notification(row) for row in rows.values()]

    def log_snapshot(self) -> tuple[list[Notification], MemoryReadModels]:
        with self._database_lock:
            log = [self._notification(row) for row in range(len(self._stored_events))]
            return log, self.read_models.load_all()

    def replace_read_models(self, build: BuildReadModels) -> None:
        with self._database_lock:
            log = [self._notification(row) for row in range(len(self._stored_events))]
            self.read_models.replace_projections(build(log))

    def _notification(self, row: int) -> Notification:
        stored = self._stored_events[row]
        return Notification(
            id=row + 1,
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=stored.state,
        )


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

    def due_sessions(self, now: datetime) -> list[str]:
        with self._lock:
            return self._models.due_sessions(now)

    def load_all(self) -> MemoryReadModels:
        with self._lock:
            return self._models.load_all()


class MemorySessionLog(SessionLog):
    def construct_recorder(self) -> ApplicationRecorder:
        return MemorySessionRecorder()


def open_memory_log(log_settings: Mapping[str, str]) -> OpenedLog:
    """With a key, events are encrypted like on disk; the read models are live objects."""
    log = MemorySessionLog({"PERSISTENCE_MODULE": "eventsourcing.popo", **log_settings})
    recorder = log.recorder
    assert isinstance(recorder, MemorySessionRecorder)
    return OpenedLog(log, LockedReader(recorder), recorder)
