"""Export and import of the log as JSON Lines, streamed: memory grows with the number of
streams (sessions), never with the length of the log or of the file."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from greentic_session.adapters.service.archive_lines import (
    LineDigest,
    Trailer,
    special,
    tombstone_line,
)
from greentic_session.adapters.service.audit_trail import REPLAY_ERRORS, damaged_log_errors
from greentic_session.adapters.service.event_lines import EventLines
from greentic_session.adapters.service.event_spool import EventSpool, spooled
from greentic_session.adapters.service.stored_form import StoredForm
from greentic_session.adapters.storage.log_access import LogAccess, log_not_empty
from greentic_session.adapters.storage.session_log import SessionLog
from greentic_session.domain.aggregate import Session, key_named
from greentic_session.domain.audit import ArchivedStream
from greentic_session.domain.chain import BrokenChain, ChainCheck
from greentic_session.domain.errors import SessionError, invalid_input
from greentic_session.domain.progress import Progress
from greentic_session.domain.state import stream_id
from greentic_session.projections.projector import as_changes
from greentic_session.projections.replay import Replayed, rebuild

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
"""Events read from the log per query by an export."""
BATCH_SIZE = 2000
"""Events handed to the recorder at a time by an import, and lines between two reports."""

OURS, OTHERS = 1, 2  # whose lives a stream held, as bits, for the tenant filter


class EventTransfer:
    def __init__(
        self,
        log_app: SessionLog,
        recorder: LogAccess,
        decode: Callable[[Notification], Session.Event],
    ) -> None:
        self._log = log_app
        self._recorder = recorder
        self._decode = decode
        self._lines = EventLines(log_app.mapper.transcoder)
        self._form = StoredForm(log_app.mapper)

    # -- export ------------------------------------------------------------------------

    def export_events(self, fp: IO[str], tenant: str | None, progress: Progress) -> int:
        """One pass over the log, a page at a time, up to the last position when it starts
        (later writes are left out), into a temporary file; only once every chain checked
        out is that copied to `fp`. So a broken log writes nothing (an import would refuse
        it), and the temporary file needs the export's size on the disk of `TMPDIR`. On
        PostgreSQL, positions can commit out of order: a write still committing when the
        export starts may be in it or not, but any later event of its stream was numbered
        after it committed, so past the end: each stream goes out as an unbroken prefix.

        `tenant`: a stream is exported whole or not at all, so only streams whose every
        life belongs to the tenant go out; which they are is known only at the end of the
        pass, so the temporary file holds every stream's lines, each tagged with its
        stream id, and the copy leaves the others out: the cost is the whole log on disk
        and one small entry per stream in memory. Positions count as events for
        `progress` (a rolled-back write can leave a position unused)."""
        if not callable(getattr(fp, "write", None)):
            raise invalid_input(f"export writes to a text file, got {type(fp).__name__}")
        last = self._log.recorder.max_notification_id() or 0
        with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
            with damaged_log_errors("cannot export: "):
                owners = self._spool_log(spool, last, tenant, progress)
            streams = None if tenant is None else _streams_of(owners)
            spool.seek(0)
            count = 0
            for tagged in spool:
                stream, line = tagged.split("\t", 1)
                if streams is None or stream in streams:
                    fp.write(line)
                    count += not line.startswith('{"tombstone"')
        progress(last, last)
        return count

    def _spool_log(
        self, spool: IO[str], last: int, tenant: str | None, progress: Progress
    ) -> dict[UUID, int]:
        chain = ChainCheck()
        keys: dict[UUID, str] = {}
        owners: dict[UUID, int] = {}
        for tombstone in self._recorder.tombstones():  # first: the events follow them
            stream = stream_id(tombstone.session_key)
            chain.resume(stream, tombstone.last_version, tombstone.last_hash)
            keys[stream] = tombstone.session_key
            spool.write(f"{stream}\t{tombstone_line(tombstone)}")
        for position, event in self._log_up_to(last, progress):
            chain.check(event)
            stream = event.originator_id
            if (named := key_named(event)) is not None:
                keys[stream] = named
            if tenant is not None and isinstance(data := getattr(event, "data", None), dict):
                whose = OURS if str(data["tenant_ctx"]["tenant_id"]) == tenant else OTHERS
                owners[stream] = owners.get(stream, 0) | whose
            spool.write(f"{stream}\t{self._lines.line(position, event, keys[stream])}")
        return owners

    def _log_up_to(self, last: int, progress: Progress) -> Iterator[tuple[int, Session.Event]]:
        start = 1
        while start <= last:
            page = self._log.recorder.select_notifications(start, PAGE_SIZE, stop=last)
            if not page:
                return
            for notification in page:
                yield notification.id, self._decode(notification)
            start = page[-1].id + 1
            progress(page[-1].id, last)

    # -- import ------------------------------------------------------------------------

    def import_events(self, fp: IO[str], progress: Progress) -> int:
        """Two passes, all or nothing. The first reads the file once: it parses each line,
        checks its stream's chain (a version and a hash per stream held), replays it into
        the read models (what a fresh store would hold: bounded by the sessions), and
        parks the event, encoded as the store holds it, in a temporary file (so a pipe
        works; it needs the log's size on the disk of `TMPDIR`). Any bad line stops it
        there, before anything is written. The second hands the parked events and the
        read models to the recorder, in batches, in one transaction.

        `progress` counts lines checked (total unknown), then events written, from 0
        again, out of the total. Raises `SessionError(invalid_input)` naming the first bad
        line, `(conflict)` if the store has events, `(internal)` for a write the database
        refuses."""
        tombstones: list[ArchivedStream] = []
        with spooled() as spool:
            try:
                models = rebuild(self._checked(fp, spool, tombstones, progress))
            except SessionError:
                raise
            except (*REPLAY_ERRORS, AttributeError, AssertionError) as exc:
                raise invalid_input(
                    f"line {spool.count} does not replay after the lines before it "
                    f"({type(exc).__name__}: {exc}); nothing was imported"
                ) from exc
            if self._recorder.max_notification_id():
                raise log_not_empty()
            total = spool.count
            if total or tombstones:
                batches = _reported(spool.batches(BATCH_SIZE), total, progress)
                self._recorder.import_log(
                    batches, lambda: as_changes(models, heads=True), lambda: tombstones
                )
            progress(total, total)
        log.info("imported %d events", total)
        return total

    def _checked(
        self,
        fp: IO[str],
        spool: EventSpool,
        tombstones: list[ArchivedStream],
        progress: Progress,
    ) -> Iterator[Replayed]:
        """Events, and the tombstones of an export or archive (kept in `tombstones`); an
        archive's trailers must name the digest of the lines before them."""
        chain = ChainCheck()
        digest = LineDigest()
        for number, line in _numbered(fp):
            found = special(number, line)
            if isinstance(found, Trailer) and found.digest != digest.hex:
                raise invalid_input(
                    f"line {number}: the archive's lines before it do not have the digest it "
                    "names (changed, cut or reordered); nothing was imported"
                )
            digest.add(line)
            if isinstance(found, Trailer):
                continue
            if isinstance(found, ArchivedStream):
                chain.resume(stream_id(found.session_key), found.last_version, found.last_hash)
                tombstones.append(found)
                yield found
                continue
            event = self._lines.parse(number, line)
            try:
                chain.check(event)
            except BrokenChain as exc:
                raise invalid_input(f"{exc}; nothing was imported") from exc
            spool.append(self._form.stored_event(event))
            if number % BATCH_SIZE == 0:
                progress(number, None)
            yield event


def _numbered(fp: IO[str]) -> Iterator[tuple[int, str]]:
    try:
        yield from enumerate(fp, 1)
    except UnicodeDecodeError as exc:
        raise invalid_input(f"not an export: the file is not UTF-8 text ({exc})") from exc
    except TypeError as exc:
        raise invalid_input(f"import reads a text file, got {type(fp).__name__}") from exc


def _reported(
    batches: Iterable[list[StoredEvent]], total: int, progress: Progress
) -> Iterator[list[StoredEvent]]:
    done = 0
    for batch in batches:
        yield batch
        done += len(batch)
        progress(done, total)


def _streams_of(owners: dict[UUID, int]) -> set[str]:
    """Streams whose every life belongs to the tenant (a stream goes whole or not at all)."""
    mixed = sum(1 for whose in owners.values() if whose == OURS | OTHERS)
    if mixed:
        log.warning("%d streams held sessions of several tenants: not exported", mixed)
    return {str(stream) for stream, whose in owners.items() if whose == OURS}
