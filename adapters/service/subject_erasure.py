"""Erase a subject: every event of their sessions loses its body, and the log says so.

One transaction per session, its writers held off (`LogAccess.locked_write`): its
events since its last erasure are overwritten by their redacted payloads (envelope, hash
and commitment: the chain still verifies), an `Erased` event is appended that counts
them and ends the session, and the read models drop what they derived from them (the
session index row, the scope history; the state row becomes the erasure's, ended). The
aggregate decides and the projector derives the changes, as for any write. Then the
backend compacts (SQLite: its WAL emptied into the file, so neither keeps the old
bytes; see `SQLiteSessionRecorder.compact`).

Memory: one session's stream at a time (and, for a tenant, a page of its sessions).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from functools import partial

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent

from greentic_session.adapters.service.audit_trail import AuditTrail
from greentic_session.adapters.storage.log_access import LogAccess
from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import ArchivedStream, ErasureReport
from greentic_session.domain.erasure import ErasureSubject, to_erase
from greentic_session.domain.errors import ErrorCode, SessionError, not_found
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.operation import Operation, Trace, trace_of
from greentic_session.domain.progress import Progress
from greentic_session.domain.session_search import Cursor
from greentic_session.domain.state import SessionState
from greentic_session.domain.tenant import TenantCtx
from greentic_session.projections.changes import Change, RedactEvent, in_apply_order
from greentic_session.projections.projector import pending_changes
from greentic_session.projections.session_index import page_of

log = logging.getLogger(__name__)

MAX_ERASE_ATTEMPTS = 20


class SubjectErasure:
    def __init__(self, access: LogAccess, audit: AuditTrail, clock: Callable[[], datetime]) -> None:
        self._access = access
        self._audit = audit
        self._clock = clock

    def erase(
        self, subject: ErasureSubject, reason: str, ctx: TenantCtx | None, progress: Progress
    ) -> ErasureReport:
        """Blocking (the async store calls it on its worker thread)."""
        erased: list[SessionKey] = []
        events = 0
        trace = trace_of(ctx)
        for key in self._keys(subject):
            count = self._erase_session(key, reason, trace)
            if count:
                erased.append(key)
                events += count
                progress(len(erased), None)
        if erased or subject.session is not None:  # a rerun by key compacts again
            self._access.compact()
            log.info("erased %d events of %d sessions (%s)", events, len(erased), reason)
        progress(len(erased), len(erased))
        return ErasureReport(sessions=erased, events=events)

    def _keys(self, subject: ErasureSubject) -> Iterator[SessionKey]:
        if subject.session is not None:
            if not self._audit.stream(subject.session, up_to=1) and not self._audit.archived(
                subject.session
            ):
                raise not_found(subject.session)
            yield subject.session
            return
        query = subject.query
        assert query is not None
        while True:
            now = self._clock()
            page = page_of(self._audit.find_sessions(query, now), query.limit, now)
            for summary in page.sessions:
                yield summary.session_key
            if page.next is None:
                return
            query = replace(query, after=Cursor.decode(page.next))

    def _erase_session(self, key: SessionKey, reason: str, trace: Trace) -> int:
        """One session's erasure, in one transaction that holds its writers off: a
        session written without pause would otherwise win every race against a write that
        reads its whole stream first. A tie the server broke is retried."""
        for attempt in range(1, MAX_ERASE_ATTEMPTS + 1):
            erased: list[int] = []
            try:
                self._access.locked_write(key, partial(self._erasure, key, reason, trace, erased))
            except IntegrityError:
                log.debug("erasure of %s clashed, attempt %d; retrying", key, attempt)
                time.sleep(random.uniform(0, 0.001 * 2**attempt))
                continue
            return sum(erased)
        raise SessionError(
            ErrorCode.CONFLICT,
            f"{key}: gave up erasing after {MAX_ERASE_ATTEMPTS} attempts; run it again",
        )

    def _erasure(
        self,
        key: SessionKey,
        reason: str,
        trace: Trace,
        erased: list[int],
        state: SessionState | None,
        tombstones: list[ArchivedStream],
        notifications: list[Notification],
    ) -> tuple[list[StoredEvent], list[Change]]:
        """What erasing the session writes, given its state row, tombstones and live events
        (nothing when nothing came since its last erasure); how many it erases goes to
        `erased`."""
        if state is None:
            return [], []
        archived = tombstones[-1].last_version if tombstones else 0
        logged = [event for _, event in self._audit.sequence(key, archived, notifications)]
        last = logged[-1].originator_version if logged else archived
        if last != state.version:
            raise SessionError(
                ErrorCode.INTERNAL,
                f"{key}: the log ends at v{last}, its state row says v{state.version}; "
                "nothing was erased; run verify",
            )
        run = to_erase(logged)
        if not run:
            return [], []
        session = Session.restore(state)
        erased_in = state.version + 1
        redactions: list[Change] = [
            RedactEvent(
                key,
                event.originator_version,
                self._audit.form.redacted_state(event, erased_in, key),
            )
            for event in run
        ]
        session.erase(len(run), reason, Operation(self._clock(), trace))
        changes = pending_changes(state, session)
        pending = [e for e in session.collect_events() if isinstance(e, Session.Event)]
        events = [self._audit.form.stored_event(event) for event in pending]
        erased.append(len(run))
        return events, in_apply_order([*changes, *redactions])
