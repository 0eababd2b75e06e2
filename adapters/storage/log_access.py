"""What the audit tools need from a recorder beyond appending: reading the raw log whole
or by stream, and swapping in rebuilt read models atomically."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Notification

from greentic_session.projections.changes import Change
from greentic_session.projections.read_models import MemoryReadModels

BuildReadModels = Callable[[list[Notification]], MemoryReadModels]
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
