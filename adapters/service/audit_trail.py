"""The audit and debugging tools over one store's log: history, time travel, explain,
diff, verify and rebuild (export and import are in `event_transfer`). Reads go to the raw
log, never the read models (except `verify`, which compares the two)."""

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
from greentic_session.projections.read_models import MemoryReadModels
from greentic_session.projections.replay import rebuild
from greentic_session.projections.stream_history import LoggedEvent

log = logging.getLogger(__name__)

LOG_PAGE_SIZE = 1000


class AuditTrail:
    def __init__(self, log_app: SessionLog, recorder: LogAccess) -> None:
        self._log = log_app
        self._recorder = recorder

    def check_key(self) -> None:
        """The first event decrypts with this store's key (or needs none): a wrong or missing
        key fails here, at open, and clearly."""
        first = self._log.recorder.select_notifications(None, 1)
        if first:
            check_key(self._log.mapper.cipher, first[0].state)

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
        with damaged_log_errors():
            return scope_explanation.explain(self.logged_events(), ctx, user_id, scope, at)

    # -- integrity -----------------------------------------------------------------

    def verify(self) -> VerifyReport:
        log_entries, stored = self._recorder.log_snapshot()
        return log_verification.verify(log_entries, self.decode, stored)

    def rebuild_projections(self) -> None:
        def build(notifications: list[Notification]) -> MemoryReadModels:
            with damaged_log_errors("cannot rebuild: "):
                return rebuild(self.decode(n) for n in notifications)

        self._recorder.replace_read_models(build)
        log.info("read models rebuilt from the log")


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
