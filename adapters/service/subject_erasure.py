"""Erase a subject: every event of their sessions loses its body, and the log says so.

One write per session, through the store's own write loop (so a concurrent writer of
the session is a clash, retried on fresh state, and nothing is half-written): its events
since its last erasure are overwritten by their redacted payloads (envelope, hash and
commitment: the chain still verifies), an `Erased` event is appended that counts them
and ends the session, and the read models drop what they derived from them (the session
index row, the scope history; the state row becomes the erasure's, ended). Then the
backend compacts (SQLite: checkpoint and VACUUM, so neither the file nor its WAL keeps
the old bytes).

Memory: one session's stream at a time (and, for a tenant, a page of its sessions).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace

from greentic_session.adapters.service.audit_trail import AuditTrail
from greentic_session.adapters.service.session_operations import Command, SessionOperations
from greentic_session.adapters.service.sync_driver import run_sync
from greentic_session.adapters.service.unit_of_work import UnitOfWork
from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import ErasureReport
from greentic_session.domain.erasure import ErasureSubject
from greentic_session.domain.errors import ErrorCode, SessionError, not_found
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.progress import Progress
from greentic_session.domain.session_search import Cursor
from greentic_session.domain.tenant import TenantCtx
from greentic_session.projections.changes import Change, RedactEvent
from greentic_session.projections.session_index import page_of

log = logging.getLogger(__name__)


class SubjectErasure:
    def __init__(
        self, ops: SessionOperations, audit: AuditTrail, compact: Callable[[], None]
    ) -> None:
        """`compact`: the backend's clean-up after erasing (it may be nothing)."""
        self._ops = ops
        self._audit = audit
        self._compact = compact

    def erase(
        self, subject: ErasureSubject, reason: str, ctx: TenantCtx | None, progress: Progress
    ) -> ErasureReport:
        """Runs on the sync ports (the async store calls it on its worker thread)."""
        erased: list[SessionKey] = []
        events = 0
        for key in self._keys(subject):
            count = run_sync(self._ops.write(self._erase_session(key, reason), ctx))
            if count:
                erased.append(key)
                events += count
                progress(len(erased), None)
        if erased or subject.session is not None:  # a rerun by key compacts again
            self._compact()
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
            rows = self._audit.find_sessions(query, self._ops.clock())
            page = page_of(rows, query.limit, self._ops.clock())
            for summary in page.sessions:
                yield summary.session_key
            if page.next is None:
                return
            query = replace(query, after=Cursor.decode(page.next))

    def _erase_session(self, key: SessionKey, reason: str) -> Command[int]:
        async def erase(unit: UnitOfWork) -> int:
            session = await unit.load(key, fresh=True)
            if session is None:
                return 0
            tombstones = self._audit.archived(key)
            archived = tombstones[-1].last_version if tombstones else 0
            logged = [event for _, event in self._audit.stream(key, archived)]
            last = logged[-1].originator_version if logged else archived
            if last < session.version:
                raise SessionError(
                    ErrorCode.INTERNAL,
                    f"{key}: the log ends before the version its state row says "
                    f"(v{session.version}); nothing was erased; run verify",
                )
            since = [i for i, event in enumerate(logged) if isinstance(event, Session.Erased)]
            run = logged[since[-1] + 1 :] if since else logged
            if not run:
                return 0
            erased_in = session.version + 1
            redactions: list[Change] = [
                RedactEvent(
                    key,
                    event.originator_version,
                    self._audit.form.redacted_state(event, erased_in, key),
                )
                for event in run
            ]
            session.erase(len(run), reason, unit.op)
            unit.attach(redactions)
            return len(run)

        return erase
