"""What the audit tools need from a recorder beyond appending: reading the raw log by
stream or whole, streamed from one consistent snapshot with the stored read-model rows,
and swapping in rebuilt read models atomically."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from greentic_session.domain.audit import ArchivedStream
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.state import SessionState
from greentic_session.projections.changes import Change
from greentic_session.projections.read_model_rows import ReadModelRows, StoredRow, UnreadableRow
from greentic_session.projections.read_models import MemoryReadModels

MAX_VERSION = 2**63 - 1
"""No stream goes past it (a BIGINT): `originator_version <= MAX_VERSION` is every event."""

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

    def holds(self, model: ReadModelRows) -> bool:
        """Whether the store has `model` at all (a store made before the scope history,
        opened by a role that may not create it, has not: verify skips it)."""
        ...

    def tombstones(self) -> Iterator[ArchivedStream | UnreadableRow]:
        """Every tombstone of an archived stream, by stream and version, or why a stored
        one is not one (none: a store that never archived)."""
        ...


@dataclass(frozen=True, slots=True)
class EndedStream:
    """A stream whose session ended (its state row has no data), as listed for archiving:
    its head when listed, which the archiving transaction checks again."""

    session_key: str
    version: int
    head_hash: str
    stream_text: str
    """The stream id as its state row stores it: where the next page of the listing starts."""


StreamReader = Callable[[EndedStream], list[Notification]]
ArchiveWriter = Callable[[list[EndedStream], StreamReader], list[ArchivedStream]]
"""Given the streams still ended at their listed version, and a reader of their events
inside the archiving transaction: writes them to the archive file, and returns the
tombstones of those it archived (the others stay)."""


StreamWrite = Callable[
    [SessionState | None, list[ArchivedStream], list[Notification]],
    tuple[Sequence[StoredEvent], list[Change]],
]
"""Given a session's state row, its tombstones and its live events, all read in one
transaction with its writers held off: the events to append to its stream and the
changes to make with them (none: nothing to write). It must read nothing else: another
connection could wait on this transaction's lock."""

BuildReadModels = Callable[[LogSnapshot], MemoryReadModels]
ImportedReadModels = Callable[[], Iterable[Change]]
BuildChanges = Callable[[Iterable[Notification], tuple[type[Change], ...]], list[Change]]


class ArchiveAccess(Protocol):
    """What `archive` needs from a recorder: the ended streams, and one transaction per
    batch that writes tombstones and deletes their streams' events."""

    def stream_tombstones(self, stream: UUID) -> list[ArchivedStream]:
        """The stream's tombstones, oldest first (none: never archived)."""
        ...

    def ended_streams(self, after: str, limit: int) -> list[EndedStream]:
        """Up to `limit` streams whose session ended, in stream-id order after `after`
        (`""`: from the first), leaving out those archived at their current version."""
        ...

    def archive_streams(self, ended: list[EndedStream], write: ArchiveWriter) -> int:
        """One transaction, writers of those sessions held off: the streams still ended at
        their listed version go to `write`; the tombstones it returns are stored and their
        streams' events (and scope-history rows) deleted. All or nothing. Returns how many
        events were deleted. `SessionError(permission_denied)` for a role that may not."""
        ...

    def rename_archive(self, digests: list[str], digest: str) -> None:
        """The tombstones naming any of `digests` (an archive's checkpoints) name `digest`
        (the whole archive's) instead."""
        ...


class LogAccess(ArchiveAccess, Protocol):
    def stream_notifications(self, stream: UUID, up_to: int | None = None) -> list[Notification]:
        """The stream's events with their log positions, by version (up to version `up_to`
        when given: the rest is not read)."""
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

    def ensure_late_tables(self, build: BuildChanges) -> list[str]:
        """Create the read models added after the first release that the store lacks (one
        made before them), filled with `build(log, kinds of change they hold)` in the same
        transaction, writers held off meanwhile. Returns the tables still missing (this
        role may not create or use them). If `build` raises, nothing is created and the
        error propagates."""
        ...

    def max_notification_id(self) -> int | None: ...

    def import_log(
        self,
        batches: Iterable[Sequence[StoredEvent]],
        read_models: ImportedReadModels,
        tombstones: Callable[[], list[ArchivedStream]] = list,
    ) -> None:
        """Into an empty log, in one transaction: every batch of events, in order (their
        positions follow it), then the changes `read_models()` gives and the tombstones
        `tombstones()` gives (each called once, after the last batch). All or nothing;
        `SessionError(conflict)` if the log has events."""
        ...

    def tombstones(self) -> list[ArchivedStream]:
        """Every readable tombstone, by stream and version (for the tools that replay)."""
        ...

    def locked_write(self, session_key: str, write: StreamWrite) -> None:
        """One transaction with the session's writers held off (its state row locked; on
        SQLite, the database's write lock): its state, tombstones and live events go to
        `write`, and what it returns is appended, all or nothing, before any other writer
        of the session goes on. For a write that must read the whole stream and still win
        against its writers (an erasure). Raises `IntegrityError` on a clash the lock
        could not prevent (a deadlock the server broke): retry."""
        ...

    def prepare_erasure(self) -> None:
        """Before an erasure: what it needs that a store made before it lacks (the index
        that finds a stream's scope-history rows). `SessionError(permission_denied)` for a
        role that may not create it."""
        ...

    def compact(self) -> None:
        """After an erasure: leave no copy of overwritten bytes the store itself can reach
        (SQLite: its WAL and free pages; elsewhere nothing to do). `SessionError
        (unavailable)` when other connections keep it from finishing."""
        ...


def log_not_empty() -> SessionError:
    return SessionError(
        ErrorCode.CONFLICT, "import needs an empty store; open a new database for it"
    )
