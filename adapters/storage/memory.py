"""`memory://`: the library's in-memory (POPO) log with dict read models, for tests and demos."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
    ArchiveWriter,
    BuildChanges,
    BuildReadModels,
    EndedStream,
    ImportedReadModels,
    LogSnapshot,
    StreamWrite,
    log_not_empty,
)
from greentic_session.adapters.storage.session_log import (
    READ_MODEL_CHANGES,
    OpenedLog,
    SessionLog,
    read_model_changes,
)
from greentic_session.domain.audit import ArchivedStream
from greentic_session.domain.session_search import SessionQuery
from greentic_session.domain.state import SessionState, stream_id
from greentic_session.projections.changes import IndexedSession, RedactEvent
from greentic_session.projections.read_model_rows import ReadModelRows, StoredRow, UnreadableRow
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
        self._positions: dict[UUID, dict[int, int]] = {}  # by stream, by version
        self._archived: set[int] = set()  # positions whose events went to an archive
        self._tombstones: dict[UUID, list[ArchivedStream]] = {}
        self._redacted: dict[int, bytes] = {}  # the payloads of erased events, by position

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
                self._positions.setdefault(_stream_of(stored), {})[stored.originator_version] = (
                    position
                )
                logged[(_stream_of(stored), stored.originator_version)] = position
            self.read_models.apply(changes, logged)
            for change in changes:
                if isinstance(change, RedactEvent):
                    stream = self._positions[stream_id(change.session_key)]
                    self._redacted[stream[change.version]] = change.state
            return positions

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """The library's, without the archived events (the library's list keeps every
        position, so an archived event is dropped from what is read: positions are never
        reused), and with erased events as redacted (the library's list keeps them whole:
        a memory store forgets everything when it closes)."""
        results: list[Notification] = []
        while True:
            want = limit - len(results)
            page = super().select_notifications(
                start, want, stop, topics, inclusive_of_start=inclusive_of_start
            )
            results.extend(self._redact(n) for n in page if n.id not in self._archived)
            if len(page) < want or len(results) >= limit:
                return results
            start, inclusive_of_start = page[-1].id + 1, True

    def stream_notifications(self, stream: UUID, up_to: int | None = None) -> list[Notification]:
        with self.lock:
            positions = self._positions.get(stream, {})
            return [
                self._at(p)
                for version, p in positions.items()
                if p not in self._archived and (up_to is None or version <= up_to)
            ]

    def tombstones(self) -> list[ArchivedStream]:
        with self.lock:
            return [t for stream in sorted(self._tombstones) for t in self._tombstones[stream]]

    def stream_tombstones(self, stream: UUID) -> list[ArchivedStream]:
        with self.lock:
            return list(self._tombstones.get(stream, []))

    def ended_streams(self, after: str, limit: int) -> list[EndedStream]:
        with self.lock:
            found = []
            for state in self.read_models.states.values():
                text = str(state.originator_id)
                if state.data is None and text > after and not self._archived_at(state):
                    found.append(
                        EndedStream(state.session_key, state.version, state.head_hash, text)
                    )
            found.sort(key=lambda ended: ended.stream_text)
            return found[:limit]

    def archive_streams(self, ended: list[EndedStream], write: ArchiveWriter) -> int:
        """Under the lock, so no write lands in between: all or nothing, as `write` may
        raise before anything changed."""
        with self.lock:
            states = self.read_models.states
            kept = [
                e
                for e in ended
                if (state := states.get(e.session_key)) is not None
                and state.data is None
                and state.version == e.version
            ]
            tombstones = write(kept, lambda e: self.stream_notifications(stream_id(e.session_key)))
            deleted = 0
            for tombstone in tombstones:
                stream = stream_id(tombstone.session_key)
                live = [
                    p for p in self._positions.get(stream, {}).values() if p not in self._archived
                ]
                self._archived.update(live)
                deleted += len(live)
                self._tombstones.setdefault(stream, []).append(tombstone)
                self.read_models.forget(tombstone.session_key)
            return deleted

    def rename_archive(self, digests: list[str], digest: str) -> None:
        with self.lock:
            old = set(digests)
            for stream, rows in self._tombstones.items():
                self._tombstones[stream] = [
                    t.model_copy(update={"archive_digest": digest})
                    if t.archive_digest in old
                    else t
                    for t in rows
                ]

    def _archived_at(self, state: SessionState) -> bool:
        rows = self._tombstones.get(state.originator_id, [])
        return any(t.last_version == state.version for t in rows)

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
        self,
        batches: Iterable[Sequence[StoredEvent]],
        read_models: ImportedReadModels,
        tombstones: Callable[[], list[ArchivedStream]] = list,
    ) -> None:
        """The log lives in memory anyway: the batches are gathered, then appended in one
        step, so a failure on the way writes nothing."""
        with self.lock:
            if self.max_notification_id():
                raise log_not_empty()
            stored = [event for batch in batches for event in batch]
            if stored:
                self.insert_events(stored, **{READ_MODEL_CHANGES: list(read_models())})
            else:
                self.read_models.apply(list(read_models()))
            for tombstone in tombstones():
                self._tombstones.setdefault(stream_id(tombstone.session_key), []).append(tombstone)

    def ensure_late_tables(self, build: BuildChanges) -> list[str]:
        """A memory store is always new: every read model began with it."""
        return []

    def wait_position(self, session_key: str) -> int | None:
        """The log position of the event that registered the session's current wait."""
        state = self.read_models.states.get(session_key)
        if state is None or state.wait is None:
            return None
        return self._positions.get(state.originator_id, {}).get(state.wait.version)

    @property
    def models(self) -> MemoryReadModels:
        return self.read_models

    @property
    def archived(self) -> set[int]:
        """The positions of the events that went to an archive."""
        return self._archived

    def locked_write(self, session_key: str, write: StreamWrite) -> None:
        stream = stream_id(session_key)
        with self.lock:
            state = self.read_models.states.get(session_key)
            tombstones = self.stream_tombstones(stream)
            events, changes = write(state, tombstones, self.stream_notifications(stream))
            if events:
                self.insert_events(events, **{READ_MODEL_CHANGES: changes})

    def prepare_erasure(self) -> None:
        """Nothing: the memory read models find rows by key."""

    def compact(self) -> None:
        """Nothing: a memory store's redacted events are read as redacted, and the rest
        goes when the process ends."""

    def _redact(self, notification: Notification) -> Notification:
        state = self._redacted.get(notification.id)
        if state is None:
            return notification
        return Notification(
            id=notification.id,
            originator_id=notification.originator_id,
            originator_version=notification.originator_version,
            topic=notification.topic,
            state=state,
        )

    def _at(self, position: int) -> Notification:
        (notification,) = self.select_notifications(position, 1)
        return notification


class _Snapshot:
    """The log and the read models under the recorder's lock, held by the caller."""

    def __init__(self, recorder: MemorySessionRecorder) -> None:
        self._recorder = recorder

    def count(self) -> int:
        return (self._recorder.max_notification_id() or 0) - len(self._recorder.archived)

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

    def tombstones(self) -> Iterator[ArchivedStream | UnreadableRow]:
        yield from self._recorder.tombstones()


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
