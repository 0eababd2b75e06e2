"""The audit and debugging tools over one store's log: history, time travel, explain,
diff, verify and rebuild (export and import are in `event_transfer`). Reads go to the raw
log, never the read models (except `verify`, which compares the two, and `explain`, which
finds in the scope history which streams of the log to read)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import OriginatorIDError, OriginatorVersionError
from eventsourcing.persistence import MapperDeserialisationError, Notification

from greentic_session.adapters.service.stored_form import StoredForm
from greentic_session.adapters.storage.encryption import check_key
from greentic_session.adapters.storage.log_access import LogAccess, LogSnapshot
from greentic_session.adapters.storage.session_log import SessionLog
from greentic_session.domain.aggregate import Session, key_named, opens_stream
from greentic_session.domain.audit import (
    ArchivedStream,
    Explanation,
    SessionDiff,
    SessionEvent,
    VerifyReport,
)
from greentic_session.domain.errors import ErrorCode, SessionError, invalid_input
from greentic_session.domain.event_shape import UnreadableEvent, event_from_payload
from greentic_session.domain.identifiers import SessionKey, UserId
from greentic_session.domain.progress import Progress, no_progress
from greentic_session.domain.rules import near_miss_key, scope_key
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.session_search import SessionQuery
from greentic_session.domain.state import stream_id
from greentic_session.domain.tenant import TenantCtx
from greentic_session.projections import (
    log_verification,
    scope_explanation,
    session_diff,
    stream_history,
)
from greentic_session.projections.changes import Change, IndexedSession
from greentic_session.projections.log_verification import PROGRESS_EVERY
from greentic_session.projections.projector import as_changes
from greentic_session.projections.read_models import (
    MemoryReadModels,
    ReadModelReader,
    ScopeEvent,
    ScopeHistoryMissing,
    SessionIndexMissing,
)
from greentic_session.projections.replay import Replay, rebuild_logged
from greentic_session.projections.stream_history import HistoryWindow, LogFilter, LoggedEvent

log = logging.getLogger(__name__)

LOG_PAGE_SIZE = 1000
KEY_CHECK_EVENTS = 20  # the first events `check_key` reads: one damaged one is not a key


class AuditTrail:
    def __init__(self, log_app: SessionLog, recorder: LogAccess, models: ReadModelReader) -> None:
        self._log = log_app
        self._recorder = recorder
        self._models = models
        self.form = StoredForm(log_app.mapper)

    def check_key(self) -> None:
        """The first events decrypt with this store's key (or need none): a wrong or missing
        key fails here, at open, and clearly. A first event no key explains is damage: the
        store opens, with a warning, so that `verify` can say what was changed."""
        first = self._recorder.first_notifications(KEY_CHECK_EVENTS)
        if not check_key(self._log.mapper.cipher, [n.state for n in first]):
            log.warning(
                "the log's first event (stream %s v%s) cannot be read: it was damaged, not "
                "encrypted; run verify to see what was changed",
                first[0].originator_id,
                first[0].originator_version,
            )

    def prepare_late_tables(self) -> None:
        """A store made before the scope history or the session index gets them now, filled
        from its log once; if this role may not create them, or the log does not replay,
        `explain` replays the whole log instead and `find_sessions` is unavailable (with a
        warning)."""
        try:
            missing = self._recorder.ensure_late_tables(self._late_rows)
        except (SessionError, *REPLAY_ERRORS, AttributeError, AssertionError, OverflowError) as exc:
            if isinstance(exc, SessionError) and exc.code is not ErrorCode.INTERNAL:
                raise  # the database, not the log
            log.warning(
                "the scope history could not be filled, nor the session index: the log does "
                "not replay (%s: %s); explain replays the whole log and find_sessions is "
                "unavailable; run verify, and once the log is restored the owner's next open "
                "creates them",
                type(exc).__name__,
                exc,
            )
            return
        if missing:
            log.warning(
                "this store lacks %s, or this role may not create or use them: explain "
                "replays the whole log, find_sessions is unavailable; run `greentic-session "
                "setup --grant-to <this role>` as the tables' owner once to create, fill and "
                "grant them",
                ", ".join(missing),
            )

    def _late_rows(
        self, notifications: Iterable[Notification], kinds: tuple[type[Change], ...]
    ) -> list[Change]:
        tombstones = self._recorder.tombstones()
        models = rebuild_logged(((n.id, self.decode(n)) for n in notifications), tombstones)
        return [c for c in as_changes(models, heads=False) if isinstance(c, kinds)]

    # -- reading the log -----------------------------------------------------------

    def read_event(self, notification: Notification) -> Session.Event:
        """The event a stored notification holds, read through the log's own cipher,
        compressor and transcoder, and checked field by field (`event_shape`).

        Raises `UnreadableEvent`, or whatever the cipher or transcoder raise on bytes
        that are not theirs."""
        return self.read_exactly(notification)[0]

    def read_exactly(self, notification: Notification) -> tuple[Session.Event, bool]:
        """`read_event`, and whether the payload is byte for byte what the transcoder
        writes for what it holds: a reformatted payload, or a field given twice, reads the
        same but is a change, which only this shows (no hash covers the bytes)."""
        payload, exact = self.form.payload(notification.state)
        stream = notification.originator_id
        if not isinstance(stream, UUID):
            raise UnreadableEvent(f"stream id {stream!r} is not a UUID")
        event = event_from_payload(
            notification.topic, stream, notification.originator_version, payload
        )
        return event, exact

    def decode(self, notification: Notification, name: str | None = None) -> Session.Event:
        """The one place a stored event is read for the tools: any failure to read it is
        `SessionError(internal)`, naming the stream (`name`, else its id) and version."""
        try:
            return self.read_event(notification)
        except Exception as exc:  # whatever damaged bytes make the decoders raise
            stream = name or f"stream {notification.originator_id}"
            raise SessionError(
                ErrorCode.INTERNAL,
                f"{stream} v{notification.originator_version} cannot be read "
                f"({type(exc).__name__}: {exc}); run verify to see what was changed, and "
                "restore the log from a backup or an export",
            ) from exc

    def logged_events(self) -> Iterator[LoggedEvent]:
        """Every event with its position, in log (commit) order, a page at a time; each
        stream's events must follow on (`_out_of_sequence`), else `SessionError(internal)`.
        What it keeps is a version per stream (an archived stream's starts at its last
        tombstone's)."""
        versions: dict[Any, int] = {
            stream_id(t.session_key): t.last_version for t in self._recorder.tombstones()
        }
        start = 1
        while True:
            page = self._log.recorder.select_notifications(start, LOG_PAGE_SIZE)
            for notification in page:
                event = self.decode(notification)
                after = versions.get(event.originator_id, 0)
                _check_sequence(f"stream {event.originator_id}", after, event)
                versions[event.originator_id] = event.originator_version
                yield notification.id, event
            if len(page) < LOG_PAGE_SIZE:
                return
            start = page[-1].id + 1

    def tombstones(self) -> list[ArchivedStream]:
        """Every archived stretch of every stream, by stream and version."""
        return self._recorder.tombstones()

    def archived(self, key: SessionKey) -> list[ArchivedStream]:
        """The key's archived stretches, oldest first."""
        return self._recorder.stream_tombstones(stream_id(key))

    def stream(
        self, key: SessionKey, archived: int = 0, up_to: int | None = None
    ) -> list[LoggedEvent]:
        """The key's events (up to version `up_to`, if given), which must make one whole
        stream (`_check_sequence`) from version `archived` + 1 on (the versions before
        went to archives), in log order as in version order."""
        notifications = self._recorder.stream_notifications(stream_id(key), up_to)
        return self.sequence(key, archived, notifications)

    def sequence(
        self, key: SessionKey, archived: int, notifications: list[Notification]
    ) -> list[LoggedEvent]:
        """The key's stored events read (`stream` says what they must make)."""
        events = [(n.id, self.decode(n, key)) for n in notifications]
        for after, (_, event) in enumerate(events, archived):
            _check_sequence(key, after, event)
        positions = [position for position, _ in events]
        if positions != sorted(positions):
            raise SessionError(
                ErrorCode.INTERNAL,
                f"{key}: its events are out of order in the log (by version, not by "
                "position); run verify to see what was changed, and restore the log from a "
                "backup or an export",
            )
        return events

    # -- questions -----------------------------------------------------------------

    def history(self, key: SessionKey, window: HistoryWindow) -> list[SessionEvent]:
        with damaged_log_errors():
            tombstones = self.archived(key)
            events = self.stream(key, _archived_up_to(tombstones), window.up_to)
            return stream_history.session_events(events, window, tombstones)

    def log_position(self) -> int:
        return self._recorder.max_notification_id() or 0

    def events_after(self, position: int, limit: int, wanted: LogFilter) -> list[SessionEvent]:
        """The events logged after `position` (at most `limit` of them read), in log order,
        those `wanted` takes. Each needs its session's state before it, so each stream
        with a new event is read from its start up to its newest one read (one indexed
        range): a cost per stream written, not per event of the log."""
        page = self._log.recorder.select_notifications(position + 1, limit)
        tops: dict[UUID, int] = {}
        for notification in page:
            stream = notification.originator_id
            assert isinstance(stream, UUID)
            tops[stream] = max(tops.get(stream, 0), notification.originator_version)
        positions = {notification.id for notification in page}
        out: list[SessionEvent] = []
        with damaged_log_errors():
            for stream, top in tops.items():
                notifications = self._recorder.stream_notifications(stream, top)
                logged = [(n.id, self.decode(n)) for n in notifications]
                archived = self._recorder.stream_tombstones(stream)
                out += stream_history.described_at(logged, positions, wanted, archived)
        return sorted(out, key=lambda event: event.position)

    def find_sessions(self, query: SessionQuery, now: datetime) -> list[IndexedSession]:
        """The session index's rows for `query`; a store without one (a role that could
        not create it) is `unavailable`, with what to run."""
        try:
            return self._models.find_sessions(query, now)
        except SessionIndexMissing as exc:
            raise SessionError(
                ErrorCode.UNAVAILABLE,
                f"this store has no session index yet ({exc}): open it once as the tables' "
                "owner, or run `greentic-session setup --grant-to <this role>`",
            ) from exc

    def session_at(
        self, key: SessionKey, version: int | None, at: datetime | None
    ) -> SessionData | None:
        with damaged_log_errors():
            tombstones = self.archived(key)
            first = _archived_up_to(tombstones) + 1
            events = self.stream(key, first - 1)
            start = stream_history.resumed(tombstones)
            if version is not None:
                last = first + len(events) - 1
                if not first <= version <= last:
                    held = f"versions {first} to {last}" if events else "no events"
                    gone = _archived_text(tombstones)
                    raise invalid_input(f"{key} has {held}{gone}, not version {version}")
                return stream_history.data_at_version(events, version, start)
            assert at is not None
            return stream_history.data_at(events, at, start)

    def diff(self, key: SessionKey, v1: int, v2: int) -> SessionDiff:
        with damaged_log_errors():
            tombstones = self.archived(key)
            events = self.stream(key, _archived_up_to(tombstones))
            start = stream_history.resumed(tombstones)
            return session_diff.diff(key, events, v1, v2, start)

    def explain(
        self, ctx: TenantCtx, user_id: UserId, scope: ReplyScope, at: datetime
    ) -> Explanation:
        """The streams of the sessions the scope's history names up to `at`, not the
        whole log; and the near misses' streams only if no session held the scope."""
        with damaged_log_errors():
            try:
                return self._explain_from_history(ctx, user_id, scope, at)
            except ScopeHistoryMissing:
                log.warning(
                    "explain replays the whole log: this store has no scope history yet; run "
                    "`greentic-session setup --grant-to <this role>` as the tables' owner"
                )
                events, tombstones = self.logged_events(), self.tombstones()
                return scope_explanation.explain(events, ctx, user_id, scope, at, tombstones)

    def _explain_from_history(
        self, ctx: TenantCtx, user_id: UserId, scope: ReplyScope, at: datetime
    ) -> Explanation:
        keys = _sessions_in(self._models.scope_events(scope_key(ctx, user_id, scope), at))
        replay = scope_explanation.ScopeReplay(ctx, user_id, scope, at)
        self._feed(replay, keys)
        if not replay.needs_near_misses():
            return replay.explanation()
        near = near_miss_key(str(ctx.env), str(ctx.tenant_id), scope.scope_hash())
        more = _sessions_in(self._models.near_misses(near, at))
        if not more.keys() - keys.keys():
            return replay.explanation()
        replay = scope_explanation.ScopeReplay(ctx, user_id, scope, at)
        self._feed(replay, {**keys, **more})
        return replay.explanation()

    def _feed(self, replay: scope_explanation.ScopeReplay, keys: dict[str, None]) -> None:
        """Their streams' events, merged in log order, each archived stream resumed from
        its last tombstone."""
        events: list[LoggedEvent] = []
        for key in keys:
            tombstones = self.archived(SessionKey(key))
            replay.resume(tombstones[-1:])
            events += self.stream(SessionKey(key), _archived_up_to(tombstones))
        events.sort(key=lambda logged: logged[0])
        replay.feed(events)

    # -- integrity -----------------------------------------------------------------

    def verify(self, progress: Progress = no_progress) -> VerifyReport:
        """Streams the log and the stored rows from one snapshot: memory stays flat."""
        with self._recorder.log_snapshot() as snapshot:
            return log_verification.verify(snapshot, self.read_exactly, progress)

    def rebuild_projections(self, progress: Progress = no_progress) -> None:
        """Raises `SessionError(internal)`, changing nothing, on a log that does not replay."""

        def build(snapshot: LogSnapshot) -> MemoryReadModels:
            total, done = snapshot.count(), 0
            replay = Replay()
            with damaged_log_errors("cannot rebuild: "):
                for tombstone in snapshot.tombstones():
                    if not isinstance(tombstone, ArchivedStream):
                        raise SessionError(
                            ErrorCode.INTERNAL,
                            f"cannot rebuild: {tombstone}; run verify to see what was changed",
                        )
                    replay.resume(tombstone)
                for notification in snapshot.notifications():
                    replay.apply(self.decode(notification), notification.id)
                    done += 1
                    if done % PROGRESS_EVERY == 0:
                        progress(done, max(total, done))
            progress(done, done)
            return replay.models

        self._recorder.replace_read_models(build)
        log.info("read models rebuilt from the log")


def _archived_up_to(tombstones: list[ArchivedStream]) -> int:
    return tombstones[-1].last_version if tombstones else 0


def _archived_text(tombstones: list[ArchivedStream]) -> str:
    if not tombstones:
        return ""
    last = tombstones[-1]
    return f" (v1 to v{last.last_version} are archived: archive {last.archive_digest})"


def _sessions_in(rows: list[ScopeEvent]) -> dict[str, None]:
    """The session keys the rows name, in order, once each."""
    return dict.fromkeys(row.session_key for row in rows)


def _check_sequence(name: str, after: int, event: Session.Event) -> None:
    """`event` follows v`after` of its stream: the next version, a `Created` first (of the
    stream's own key) and only first. Raises `SessionError(internal)` else: the tools that
    replay a stream would fail on it in ways of their own."""
    created = opens_stream(event)
    named = key_named(event)
    if (
        event.originator_version != after + 1
        or created != (after == 0)
        or (named is not None and stream_id(named) != event.originator_id)
    ):
        raise SessionError(
            ErrorCode.INTERNAL,
            f"{name} v{event.originator_version} does not follow v{after} of its stream; "
            "run verify to see what was changed, and restore the log from a backup or an "
            "export",
        )


REPLAY_ERRORS = (
    OriginatorIDError,
    OriginatorVersionError,
    MapperDeserialisationError,
    ValueError,  # BrokenChain, pydantic's ValidationError, bad JSON
    TypeError,
    KeyError,
)


@contextmanager
def damaged_log_errors(doing: str = "") -> Iterator[None]:
    """A log edited behind the store's back may not decode or replay: one clear error."""
    try:
        yield
    except REPLAY_ERRORS as exc:
        raise SessionError(
            ErrorCode.INTERNAL,
            f"{doing}the log does not replay ({type(exc).__name__}: {exc}); run verify to "
            "see what was changed, and restore the log from a backup or an export",
        ) from exc
