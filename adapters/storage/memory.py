"""`memory://`: the library's in-memory (POPO) log with dict read models, for tests and demos."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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

from greentic_session.adapters.storage.library_seams import LibraryChanged
from greentic_session.adapters.storage.log_access import (
    LOG_BATCH,
    BuildChanges,
    BuildReadModels,
    ImportedReadModels,
    LogSnapshot,
    log_not_empty,
)
from greentic_session.adapters.storage.session_log import (
    READ_MODEL_CHANGES,
    OpenedLog,
    SessionLog,
    read_model_changes,
)
from greentic_session.domain.session_search import SessionQuery
from greentic_session.domain.state import SessionState
from greentic_session.projections.changes import IndexedSession
from greentic_session.projections.read_model_rows import ReadModelRows, StoredRow
from greentic_session.projections.read_models import (
    MemoryReadModels,
    ScopeEvent,
    ScopeTaken,
    StoredData,
    WaitEntry,
)


class MemorySessionRecorder(POPOApplicationRecorder):
    """The library's in-memory recorder with the read models beside it, through its public
    methods only.

    Every append goes through `insert_events` under the store's own lock, `lock`, which
    every read of the read models and of the log for the audit tools takes too: a write's
    events and read-model changes are seen all at once or not at all. (The library's own
    lock, inside it, guards only the library's list of events.)"""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()
        self.read_models = MemoryReadModels()
        self._positions: dict[UUID, list[int]] = {}

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """A claim on a scope held by another session fails before anything is written,
        like a version already taken (which the library checks): as `IntegrityError`, so
        the write runs again on fresh state. The read models change only once the library
        has taken the events."""
        changes = read_model_changes(kwargs)
        with self.lock:
            try:
                self.read_models.check(changes)
            except ScopeTaken as exc:
                raise IntegrityError(f"scope {exc} is held by another session") from exc
            positions = super().insert_events(stored_events, **kwargs)
            if positions is None or len(positions) != len(stored_events):
                raise LibraryChanged(
                    "POPOApplicationRecorder.insert_events returned no position for each "
                    "event (assumption 7 of library_seams)"
                )
            logged = {}
            for stored, position in zip(stored_events, positions, strict=True):
                self._positions.setdefault(_stream_of(stored), []).append(position)
                logged[(_stream_of(stored), stored.originator_version)] = position
            self.read_models.apply(changes, logged)
            return positions

    def stream_notifications(self, stream: UUID, up_to: int | None = None) -> list[Notification]:
        with self.lock:
            positions = self._positions.get(stream, [])[:up_to]
            return [self._at(position) for position in positions]

    def first_notifications(self, limit: int) -> list[Notification]:
        return list(self.select_notifications(1, limit))

    @contextmanager
    def log_snapshot(self) -> Iterator[LogSnapshot]:
        """Writers wait while it is open: the lock is the snapshot."""
        with self.lock:
            yield _Snapshot(self)

    def replace_read_models(self, build: BuildReadModels) -> None:
        with self.lock:
            self.read_models.replace_projections(build(_Snapshot(self)))

    def import_log(
        self, batches: Iterable[Sequence[StoredEvent]], read_models: ImportedReadModels
    ) -> None:
        """The log lives in memory anyway: the batches are gathered, then appended in one
        step, so a failure on the way writes nothing."""
        with self.lock:
            if self.max_notification_id():
                raise log_not_empty()
            stored = [event for batch in batches for event in batch]
            if stored:
                self.insert_events(stored, **{READ_MODEL_CHANGES: list(read_models())})

    def ensure_late_tables(self, build: BuildChanges) -> list[str]:
        """A memory store is always new: every read model began with it."""
        return []

    def wait_position(self, session_key: str) -> int | None:
        """The log position of the event that registered the session's current wait."""
        state = self.read_models.states.get(session_key)
        if state is None or state.wait is None:
            return None
        positions = self._positions.get(state.originator_id, [])
        version = state.wait.version
        return positions[version - 1] if 0 < version <= len(positions) else None

    @property
    def models(self) -> MemoryReadModels:
        return self.read_models

    def _at(self, position: int) -> Notification:
        (notification,) = self.select_notifications(position, 1)
        return notification


class _Snapshot:
    """The log and the read models under the recorder's lock, held by the caller."""

    def __init__(self, recorder: MemorySessionRecorder) -> None:
        self._recorder = recorder

    def count(self) -> int:
        return self._recorder.max_notification_id() or 0

    def notifications(self) -> Iterator[Notification]:
        start = 1
        while True:
            page = self._recorder.select_notifications(start, LOG_BATCH)
            yield from page
            if len(page) < LOG_BATCH:
                return
            start = page[-1].id + 1

    def rows(self, model: ReadModelRows) -> Iterator[StoredRow]:
        yield from model.rows(self._recorder)

    def holds(self, model: ReadModelRows) -> bool:
        """A memory store is always new: it has every read model."""
        return True


def _stream_of(stored: StoredEvent) -> UUID:
    """Session streams are UUIDs; the library's type allows text ids too."""
    stream = stored.originator_id
    return stream if isinstance(stream, UUID) else UUID(stream)


class LockedReader:
    """Reads under the recorder's lock: a write's changes are seen all at once or not at all."""

    def __init__(self, recorder: MemorySessionRecorder) -> None:
        self._lock = recorder.lock
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

    def keys_with_prefix(self, prefix: str, limit: int) -> list[str]:
        with self._lock:
            return self._models.keys_with_prefix(prefix, limit)

    def find_sessions(self, query: SessionQuery, now: datetime) -> list[IndexedSession]:
        with self._lock:
            return self._models.find_sessions(query, now)
    def scope_events(self, scope_key: str, at: datetime) -> list[ScopeEvent]:
        with self._lock:
            return self._models.scope_events(scope_key, at)

    def near_misses(self, near_miss: str, at: datetime) -> list[ScopeEvent]:
        with self._lock:
            return self._models.near_misses(near_miss, at)

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
