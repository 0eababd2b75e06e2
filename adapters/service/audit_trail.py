"""The audit and debugging tools over one store's log: history, time travel, explain,
diff, verify and rebuild (export and import are in `event_transfer`). Reads go to the raw
log, never the read models (except `verify`, which compares the two, and `explain`, which
finds in the scope history which streams of the log to read)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from eventsourcing.domain import OriginatorIDError, OriginatorVersionError
from eventsourcing.persistence import MapperDeserialisationError, Notification

from greentic_session.adapters.storage.encryption import check_key
from greentic_session.adapters.storage.log_access import LogAccess
from greentic_session.adapters.storage.session_log import SessionLog
from greentic_session.domain.aggregate import EVENT_TOPICS, Session
from greentic_session.domain.audit import Explanation, SessionDiff, SessionEvent, VerifyReport
from greentic_session.domain.errors import ErrorCode, SessionError, invalid_input
from greentic_session.domain.identifiers import SessionKey, UserId
from greentic_session.domain.rules import near_miss_key, scope_key
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.state import stream_id
from greentic_session.domain.tenant import TenantCtx
from greentic_session.projections import (
    log_verification,
    scope_explanation,
    session_diff,
    stream_history,
)
from greentic_session.projections.changes import Change, RecordScopeEvent
from greentic_session.projections.projector import replay_logged
from greentic_session.projections.read_models import (
    MemoryReadModels,
    ReadModelReader,
    ScopeEvent,
    ScopeHistoryMissing,
)
from greentic_session.projections.replay import rebuild_logged
from greentic_session.projections.stream_history import LoggedEvent

log = logging.getLogger(__name__)

LOG_PAGE_SIZE = 1000


class AuditTrail:
    def __init__(self, log_app: SessionLog, recorder: LogAccess, models: ReadModelReader) -> None:
        self._log = log_app
        self._recorder = recorder
        self._models = models

    def check_key(self) -> None:
        """The first event decrypts with this store's key (or needs none): a wrong or missing
        key fails here, at open, and clearly."""
        first = self._log.recorder.select_notifications(None, 1)
        if first:
            check_key(self._log.mapper.cipher, first[0].state)

    def prepare_scope_history(self) -> None:
        """A store made before the scope history gets it now, filled from its log once;
        if this role may not create it, or the log does not replay, `explain` replays
        the whole log instead (with a warning)."""
        try:
            ready = self._recorder.ensure_scope_history(self._scope_history_of)
        except (*REPLAY_ERRORS, AttributeError, AssertionError, OverflowError) as exc:
            log.warning(
                "the scope history could not be filled: the log does not replay "
                "(%s: %s); explain replays the whole log; run verify, and once the log is "
                "restored the owner's next open creates it",
                type(exc).__name__,
                exc,
            )
            return
        if not ready:
            log.warning(
                "this store has no scope history yet, or this role may not create or use "
                "it: explain replays the whole log; run `greentic-session setup --grant-to "
                "<this role>` as the tables' owner once to create, fill and grant it"
            )

    def _scope_history_of(self, notifications: list[Notification]) -> list[Change]:
        logged = ((n.id, self.decode(n)) for n in notifications)
        return [c for c in replay_logged(logged) if isinstance(c, RecordScopeEvent)]

    # -- reading the log -----------------------------------------------------------

    def decode(self, notification: Notification) -> Session.Event:
        if notification.topic not in EVENT_TOPICS:
            raise TypeError(f"not a session event: topic {notification.topic!r}")
        event = self._log.mapper.to_domain_event(notification)
        assert isinstance(event, Session.Event)
        return event

    def logged_events(self) -> Iterator[LoggedEvent]:
        """Every event with its position, in log (commit) order, a page at a time."""
        start = 1
        while True:
            page = self._log.recorder.select_notifications(start, LOG_PAGE_SIZE)
            for notification in page:
                yield notification.id, self.decode(notification)
            if len(page) < LOG_PAGE_SIZE:
                return
            start = page[-1].id + 1

    def stream(self, key: SessionKey) -> list[LoggedEvent]:
        notifications = self._recorder.stream_notifications(stream_id(key))
        return [(n.id, self.decode(n)) for n in notifications]

    # -- questions -----------------------------------------------------------------

    def history(self, key: SessionKey) -> list[SessionEvent]:
        with damaged_log_errors():
            return stream_history.session_events(self.stream(key))

    def session_at(
        self, key: SessionKey, version: int | None, at: datetime | None
    ) -> SessionData | None:
        with damaged_log_errors():
            events = self.stream(key)
            if version is not None:
                if not 1 <= version <= len(events):
                    held = f"versions 1 to {len(events)}" if events else "no events"
                    raise invalid_input(f"{key} has {held}, not version {version}")
                return stream_history.data_at_version(events, version)
            assert at is not None
            return stream_history.data_at(events, at)

    def diff(self, key: SessionKey, v1: int, v2: int) -> SessionDiff:
        with damaged_log_errors():
            return session_diff.diff(key, self.stream(key), v1, v2)

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
                return scope_explanation.explain(self.logged_events(), ctx, user_id, scope, at)

    def _explain_from_history(
        self, ctx: TenantCtx, user_id: UserId, scope: ReplyScope, at: datetime
    ) -> Explanation:
        keys = _sessions_in(self._models.scope_events(scope_key(ctx, user_id, scope), at))
        replay = scope_explanation.ScopeReplay(ctx, user_id, scope, at)
        replay.feed(self._streams(keys))
        if not replay.needs_near_misses():
            return replay.explanation()
        near = near_miss_key(str(ctx.env), str(ctx.tenant_id), scope.scope_hash())
        more = _sessions_in(self._models.near_misses(near, at))
        if not more.keys() - keys.keys():
            return replay.explanation()
        replay = scope_explanation.ScopeReplay(ctx, user_id, scope, at)
        replay.feed(self._streams({**keys, **more}))
        return replay.explanation()

    def _streams(self, keys: dict[str, None]) -> list[LoggedEvent]:
        """Their streams' events, merged in log order."""
        events = [logged for key in keys for logged in self.stream(SessionKey(key))]
        events.sort(key=lambda logged: logged[0])
        return events

    # -- integrity -----------------------------------------------------------------

    def verify(self) -> VerifyReport:
        log_entries, stored = self._recorder.log_snapshot()
        return log_verification.verify(log_entries, self.decode, stored)

    def rebuild_projections(self) -> None:
        def build(notifications: list[Notification]) -> MemoryReadModels:
            with damaged_log_errors("cannot rebuild: "):
                return rebuild_logged((n.id, self.decode(n)) for n in notifications)

        self._recorder.replace_read_models(build)
        log.info("read models rebuilt from the log")


def _sessions_in(rows: list[ScopeEvent]) -> dict[str, None]:
    """The session keys the rows name, in order, once each."""
    return dict.fromkeys(row.session_key for row in rows)


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
