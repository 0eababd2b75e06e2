"""Archive: move the streams of sessions that ended before an instant out of the live log.

Batches of `ARCHIVE_BATCH` ended streams, each in one transaction of the recorder: the
streams still ended at the version listed are read, written to the archive file as
export lines with a trailer naming the digest of the file so far, flushed to disk, and
only then are their tombstones stored and their events deleted. So a batch is all or
nothing, and a run that stops part-way leaves a file whose every committed batch is
intact (a last batch that did not commit is a copy of streams still live: harmless, the
tombstones are the record), and runs again: archived streams are not listed again. At the
end the tombstones of the run name the whole file's digest. Memory: one batch of streams.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import datetime
from typing import IO

from eventsourcing.persistence import Notification

from greentic_session.adapters.service.archive_lines import (
    LineDigest,
    Trailer,
    tombstone_line,
    trailer_line,
)
from greentic_session.adapters.service.event_lines import EventLines
from greentic_session.adapters.storage.log_access import ArchiveAccess, EndedStream, StreamReader
from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import ArchivedStream, ArchiveReport
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.progress import Progress
from greentic_session.domain.state import stream_id

ARCHIVE_BATCH = 100
"""Streams per transaction."""

ENDS = (Session.WaitCleared, Session.Removed, Session.WaitExpired, Session.Erased)


def end_of(event: Session.Event) -> datetime | None:
    """When the life that `event` ended ended: the deadline for an expiry (recorded later
    by a sweep), the event's time for a clear, a removal or an erasure; None if it ended
    no life."""
    if isinstance(event, Session.WaitExpired):
        deadline: datetime = event.deadline
        return deadline
    return event.timestamp if isinstance(event, ENDS) else None


class StreamArchive:
    def __init__(
        self,
        access: ArchiveAccess,
        lines: EventLines,
        decode: Callable[[Notification], Session.Event],
    ) -> None:
        self._access = access
        self._lines = lines
        self._decode = decode

    def archive(
        self,
        ended_before: datetime,
        fp: IO[str],
        *,
        now: datetime,
        actor: str | None,
        progress: Progress,
    ) -> ArchiveReport:
        file = _ArchiveFile(fp)
        checkpoints: list[str] = []
        after = ""
        while page := self._access.ended_streams(after, ARCHIVE_BATCH):
            after = page[-1].stream_text

            def write(kept: list[EndedStream], read: StreamReader) -> list[ArchivedStream]:
                file.begin()
                tombstones = [
                    tombstone
                    for ended in kept
                    if (tombstone := self._stream(file, ended, read, ended_before, now, actor))
                ]
                if not tombstones:
                    return []
                digest = file.checkpoint()
                checkpoints.append(digest)
                return [t.model_copy(update={"archive_digest": digest}) for t in tombstones]

            try:
                self._access.archive_streams(page, write)
            except BaseException:
                file.undo()
                raise
            file.committed()
            progress(file.streams, None)
        if not checkpoints:
            file.begin()
            checkpoints.append(file.checkpoint())
            file.committed()
        digest = checkpoints[-1]
        if len(checkpoints) > 1:
            self._access.rename_archive(checkpoints[:-1], digest)
        progress(file.streams, file.streams)
        return ArchiveReport(streams=file.streams, events=file.events, digest=digest)

    def _stream(
        self,
        file: _ArchiveFile,
        ended: EndedStream,
        read: StreamReader,
        ended_before: datetime,
        now: datetime,
        actor: str | None,
    ) -> ArchivedStream | None:
        """The stream's lines, written, and its tombstone; None (nothing written) when its
        session ended at or after `ended_before`."""
        logged = [(n.id, self._decode(n)) for n in read(ended)]
        if not logged:
            return None
        last = logged[-1][1]
        end = end_of(last)
        if end is None or end >= ended_before:
            return None
        if last.originator_version != ended.version or last.hash != ended.head_hash:
            raise SessionError(
                ErrorCode.INTERNAL,
                f"{ended.session_key}: the log does not end where its state row says "
                f"(v{ended.version}); nothing of it was archived; run verify",
            )
        first = logged[0][1].originator_version
        if first > 1:
            previous = self._access.stream_tombstones(stream_id(ended.session_key))
            file.write(tombstone_line(previous[-1]))
        for position, event in logged:
            file.write(self._lines.line(position, event, ended.session_key))
        file.add(events=len(logged))
        return ArchivedStream(
            session_key=SessionKey(ended.session_key),
            last_version=last.originator_version,
            last_hash=last.hash,
            archive_digest="",
            events=len(logged),
            archived_at=now,
            archived_by=actor,
        )


class _ArchiveFile:
    """The archive being written: its running digest, and how to take back a batch whose
    transaction did not commit (a file that cannot seek keeps it: a harmless copy)."""

    def __init__(self, fp: IO[str]) -> None:
        self._fp = fp
        self._digest = LineDigest()
        self.streams = self.events = 0
        self._pending = (0, 0)
        self._undo: tuple[int, LineDigest] | None = None

    def begin(self) -> None:
        """Where `undo` takes the file back to, if it can seek."""
        try:
            self._fp.flush()
            self._undo = (self._fp.tell(), self._digest.copy())
        except (OSError, ValueError, AttributeError):
            self._undo = None

    def write(self, line: str) -> None:
        self._fp.write(line)
        self._digest.add(line)

    def add(self, *, events: int) -> None:
        streams, counted = self._pending
        self._pending = (streams + 1, counted + events)

    def checkpoint(self) -> str:
        """The trailer of the lines so far, on disk before the transaction commits."""
        streams, events = self._pending
        digest = self._digest.hex
        self.write(trailer_line(Trailer(digest, self.streams + streams, self.events + events)))
        self._fp.flush()
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.fsync(self._fp.fileno())  # not a file on disk (a pipe, a buffer): no sync
        return digest

    def committed(self) -> None:
        streams, events = self._pending
        self.streams, self.events = self.streams + streams, self.events + events
        self._pending, self._undo = (0, 0), None

    def undo(self) -> None:
        self._pending = (0, 0)
        if self._undo is not None:
            offset, digest = self._undo
            self._fp.seek(offset)
            self._fp.truncate()
            self._digest = digest
        self._undo = None
