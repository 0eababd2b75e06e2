"""What the audit tools need from a recorder beyond appending: reading the raw log by
stream or whole, streamed from one consistent snapshot with the stored read-model rows,
and swapping in rebuilt read models atomically."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Notification

from greentic_session.projections.read_model_rows import ReadModelRows, StoredRow
from greentic_session.projections.read_models import MemoryReadModels

LOG_BATCH = 2000
"""Events read from the database at a time by a long read: memory stays flat."""


class LogSnapshot(Protocol):
    """The log and the stored rows as of one instant (one read transaction), whatever
    writers do meanwhile. Valid only inside the `with` that opened it."""

    def count(self) -> int:
        """How many events the log holds (the total a progress callback is given)."""
        ...

    def notifications(self) -> Iterator[Notification]:
        """Every event with its log position, in log order, a batch at a time."""
        ...

    def rows(self, model: ReadModelRows) -> Iterator[StoredRow]:
        """Every stored row of `model` (a read model, or the heads), in no set order, each
        decoded to its canonical form or with why it could not be."""
        ...


BuildReadModels = Callable[[LogSnapshot], MemoryReadModels]


class LogAccess(Protocol):
    def stream_notifications(self, stream: UUID) -> list[Notification]:
        """The stream's events with their log positions, by version."""
        ...

    def log_snapshot(self) -> AbstractContextManager[LogSnapshot]:
        """`with recorder.log_snapshot() as snapshot:` the log and every stored row, from
        one consistent view, read as they are consumed (long reads may take minutes: the
        backend sets the timeouts they need)."""
        ...

    def replace_read_models(self, build: BuildReadModels) -> None:
        """Replace the read models with `build(snapshot)` in one transaction, writers held
        off meanwhile; readers see the old read models until it commits. Heads stay."""
        ...

    def first_notifications(self, limit: int) -> list[Notification]:
        """The log's first `limit` events; a damaged stream id is kept as stored."""
        ...

    def max_notification_id(self) -> int | None: ...
