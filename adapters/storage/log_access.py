"""What the audit tools need from a recorder beyond appending: reading the raw log whole
or by stream, and swapping in rebuilt read models atomically."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.projections.changes import Change
from greentic_session.projections.read_models import MemoryReadModels

BuildReadModels = Callable[[list[Notification]], MemoryReadModels]
ImportedReadModels = Callable[[], Iterable[Change]]
BuildChanges = Callable[[list[Notification]], list[Change]]


class LogAccess(Protocol):
    def stream_notifications(self, stream: UUID) -> list[Notification]:
        """The stream's events with their log positions, by version."""
        ...

    def log_snapshot(self) -> tuple[list[Notification], MemoryReadModels]:
        """The whole log and every read model (with the heads), from one consistent view."""
        ...

    def replace_read_models(self, build: BuildReadModels) -> None:
        """Replace the read models with `build(log)` in one transaction, writers held off
        meanwhile; readers see the old read models until it commits. Heads stay."""
        ...

    def ensure_scope_history(self, build: BuildChanges) -> bool:
        """Create the scope history if the store has none yet (a store made before it),
        filled with `build(log)` in the same transaction, writers held off meanwhile.
        False if it is missing and this role may not create it. If `build` raises, nothing
        is created and the error propagates."""
        ...

    def max_notification_id(self) -> int | None: ...

    def import_log(
        self, batches: Iterable[Sequence[StoredEvent]], read_models: ImportedReadModels
    ) -> None:
        """Into an empty log, in one transaction: every batch of events, in order (their
        positions follow it), then the changes `read_models()` gives (called once, after
        the last batch). All or nothing; `SessionError(conflict)` if the log has events."""
        ...


def log_not_empty() -> SessionError:
    return SessionError(
        ErrorCode.CONFLICT, "import needs an empty store; open a new database for it"
    )
