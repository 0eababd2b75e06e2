"""`SessionStore` on the event log: one implementation for every backend.

Each operation loads what it needs from the read models, lets the `Session` aggregate
decide (all rules live in `domain`), and saves the events with their read-model changes
in one transaction. Backends differ only in the recorder and the reader they plug in.
The operations that read the read models or write are `SessionOperations`, shared with
the async store and run here without an event loop; the audit tools over the log are
`AuditTrail` and `EventTransfer`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import IO

from greentic_session.adapters.service.audit_trail import AuditTrail
from greentic_session.adapters.service.event_lines import EventLines
from greentic_session.adapters.service.event_transfer import EventTransfer
from greentic_session.adapters.service.session_operations import SessionOperations, scope_arg
from greentic_session.adapters.service.store_options import StoreOptions
from greentic_session.adapters.service.store_ports import LogPorts, Runner, blocking_pause
from greentic_session.adapters.service.stream_archive import StreamArchive
from greentic_session.adapters.service.subject_erasure import SubjectErasure
from greentic_session.adapters.service.sync_driver import at_once, run_sync
from greentic_session.adapters.storage.database_errors import database_errors
from greentic_session.adapters.storage.session_log import OpenedLog, SessionLog
from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import (
    ArchiveReport,
    ErasureReport,
    Explanation,
    SessionDiff,
    SessionEvent,
    VerifyReport,
)
from greentic_session.domain.erasure import ErasureSubject, reason_arg
from greentic_session.domain.errors import invalid_input
from greentic_session.domain.identifiers import EnvId, SessionKey, TeamId, TenantId, UserId
from greentic_session.domain.progress import Progress, no_progress
from greentic_session.domain.rules import expect, version_arg
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.session_search import SessionPage, SessionQuery, SessionStateFilter
from greentic_session.domain.store import AuditedSessionStore
from greentic_session.domain.stored_session import StoredSession
from greentic_session.domain.tenant import TenantCtx
from greentic_session.projections.read_models import MemoryReadModels
from greentic_session.projections.replay import rebuild_logged
from greentic_session.projections.session_index import page_of
from greentic_session.projections.stream_history import HistoryWindow, LogFilter


class EventSourcedSessionStore(AuditedSessionStore):
    """The session store on every backend; `open_store(url)` builds one.

    Every operation raises `SessionError` (with a code saying what went wrong), and a
    refused operation writes nothing. Besides the codes each method names, any call that
    reaches the database raises `unavailable` when it cannot be reached or the store was
    closed, and `internal` when the database or the log fails in a way the caller cannot
    fix (a damaged log: run `verify`).
    """

    def __init__(
        self,
        opened: OpenedLog,
        options: StoreOptions | None = None,
    ) -> None:
        """Raises `SessionError(unauthenticated)` or `(invalid_input)` when the log's first
        event does not decrypt with this store's key (or needs one it was not given)."""
        options = options or StoreOptions()
        log_app = opened.log
        self._log = log_app
        self._models = opened.read_models
        self._audit = AuditTrail(log_app, opened.log_access, opened.read_models)
        self._audit.check_key()
        self._transfer = EventTransfer(log_app, opened.log_access, self._audit.decode)
        lines = EventLines(log_app.mapper.transcoder)
        self._archive = StreamArchive(opened.log_access, lines, self._audit.decode)
        self._audit.prepare_late_tables()
        self.options = options
        self._ops = SessionOperations(self.log_ports(at_once, blocking_pause), options)
        self._access = opened.log_access
        self._erasure = SubjectErasure(opened.log_access, self._audit, options.clock)

    # -- reads -------------------------------------------------------------------

    def get_session(self, key: SessionKey | str) -> SessionData | None:
        """The live data under `key`, or None: never created, removed, cleared or expired.

        One indexed read, whatever the length of the session's history.

        Raises `SessionError`: `invalid_input` for an empty key, or one holding NUL or a
        lone surrogate; `unavailable` (database unreachable, store closed).
        """
        return run_sync(self._ops.get_session(key))

    def read_session(self, key: SessionKey | str) -> StoredSession | None:
        """The live session with its stream version, expiry and wait: one indexed read of
        the state read model, never a replay, however long the session's history.

        None exactly when `get_session` returns None: never created, ended (cleared,
        removed, expired) or past its deadline. An ended session's past stays in the log:
        `history(key)`, `get_session_at(key, version=N)`.

        Raises `SessionError(invalid_input)` for a bad key, `(unavailable)` when the
        database cannot be reached."""
        return run_sync(self._ops.read_session(key))

    def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope
    ) -> SessionKey | None:
        """The session waiting for a reply in `scope` from `user_id`, or None.

        Looked up under the caller's env, tenant, team and `user_id`: other tenants', teams'
        and users' waits are never found; nor an expired, cleared or superseded one.

        Raises `SessionError`: `invalid_input` for a bad user id, a `ctx` that is not a `TenantCtx`
        or a `scope` that is not a `ReplyScope`; `unavailable` (database unreachable, store closed).
        """
        return run_sync(self._ops.find_wait_by_scope(ctx, user_id, scope))

    def list_waits_for_user(self, ctx: TenantCtx, user_id: UserId | str) -> list[SessionKey]:
        """The keys of `user_id`'s live waits under the caller's context, oldest
        registration first (filtered as `find_wait_by_scope` is).

        Raises `SessionError`: `invalid_input` for a bad user id or a `ctx` that is not a
        `TenantCtx`; `unavailable` (database unreachable, store closed).
        """
        return run_sync(self._ops.list_waits_for_user(ctx, user_id))

    # -- writes ------------------------------------------------------------------

    def create_session(self, ctx: TenantCtx, data: SessionData) -> SessionKey:
        """Stores `data` as a new session under a new random key (UUID4 text), returned.

        The session has no wait and never expires; `register_wait` parks it.

        Raises `SessionError`: `invalid_input` when `ctx` does not align with
        `data.tenant_ctx` (same env, tenant and team; the user, if the data has one), when
        `context_json` is over the store's limit, or for arguments of the wrong type;
        `unavailable` (database unreachable, store closed).
        """
        return run_sync(self._ops.create_session(ctx, data))

    def update_session(
        self, key: SessionKey | str, data: SessionData, *, expected_version: int | None = None
    ) -> None:
        """Replaces the live session's data; its wait and expiry stay as they were.

        Without `expected_version`, a write racing this one never makes it fail: it is
        retried on fresh state and the last writer wins. With it (the stream version the
        caller read, the last `version` `history(key)` reports), it applies only if no
        other write came in between.

        Raises `SessionError`: `not_found` when no live session is under `key`;
        `conflict` when the session is no longer at `expected_version` (nothing written);
        `invalid_input` when `data` changes the session's env, tenant, team or user, when
        `context_json` is over the limit, for a bad key or an `expected_version` that is
        not a positive int; `unavailable` (database unreachable, store closed).
        """
        run_sync(self._ops.update_session(key, data, expected_version=expected_version))

    def remove_session(self, key: SessionKey | str, *, ctx: TenantCtx | None = None) -> None:
        """Ends the live session under `key` and drops the index entries that still
        point at it (its wait). Its history stays in the log; `register_wait` on the key
        later starts a new life.

        `ctx`: the caller's context; the `removed` event (and an expiry met on the way)
        records its actor and trace ids, as every other write does. It only says who asked:
        it is not checked against the session.

        Raises `SessionError`: `not_found` when no live session is under `key`;
        `invalid_input` for a bad key or a `ctx` that is not a `TenantCtx`; `unavailable`
        (database unreachable, store closed).
        """
        run_sync(self._ops.remove_session(key, ctx=ctx))

    def register_wait(
        self,
        ctx: TenantCtx,
        user_id: UserId | str,
        scope: ReplyScope,
        session_key: SessionKey | str,
        data: SessionData,
        ttl: timedelta | None = None,
        *,
        if_absent: bool = False,
    ) -> None:
        """Parks the session under `session_key`: a reply in `scope` from `user_id` finds
        it (`find_wait_by_scope`). Stores `data` as the session's data.

        When no live session is under the key, this creates it (a removed, cleared or
        expired key starts a new life; its history stays). A live one keeps its context,
        and its previous wait is replaced. With a `ttl`, the session and its wait expire
        at now + `ttl` (zero or negative: already expired); with None, they never do.
        A live wait of another session of the user on the same scope is superseded: it
        leaves the user's waits, its data stays readable. With `if_absent`, that live
        holder makes the call fail instead.

        Raises `SessionError`: `invalid_input` when `ctx` does not align with `data.tenant_ctx`,
        when the users of `ctx`, `user_id` and the data differ (or the data has none), when `data`
        changes a live session's context, for a `ttl` that is not a `timedelta` or whose deadline is
        past year 9999, when `context_json` is over the limit, or for a bad key or user id;
        `conflict` with `if_absent` when a live wait holds the scope (nothing written, not even a
        new session); `unavailable` (database unreachable, store closed).
        """
        run_sync(
            self._ops.register_wait(
                ctx, user_id, scope, session_key, data, ttl, if_absent=if_absent
            )
        )

    def clear_wait(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> None:
        """Ends the session waiting under `scope` for `user_id` (the flow finished):
        `get_session` then returns None. No error, and nothing written, when no live wait
        is there.

        Raises `SessionError`: `invalid_input` for a bad user id, `ctx` or `scope`;
        `unavailable` (database unreachable, store closed).
        """
        run_sync(self._ops.clear_wait(ctx, user_id, scope))

    # -- audit and debugging ---------------------------------------------------------

    def find_sessions(
        self,
        *,
        env: EnvId | str | None = None,
        tenant: TenantId | str | None = None,
        team: TeamId | str | None = None,
        user: UserId | str | None = None,
        flow: str | None = None,
        conversation: str | None = None,
        state: SessionStateFilter | str = "any",
        updated_since: datetime | None = None,
        updated_before: datetime | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> SessionPage:
        """A page of sessions, most recently updated first (ties by key), each filter an
        exact match: `updated_since` includes its instant, `updated_before` excludes it.
        `state`: `waiting` (live with a wait), `live` (with or without one), `ended`
        (cleared or removed), `expired` (past its deadline, recorded or not: decided by the
        deadline against the store's clock now), `any`. One indexed range read of the
        session index, however long the log; `next` is the cursor of the next page.

        Raises `SessionError`: `invalid_input` for a bad identifier, an unknown state, a
        naive datetime, a limit outside 1..1000 or a cursor this store did not give;
        `unavailable` (database unreachable, store closed, or a store made before the
        session index, opened by a role that may not create it: run `setup` as its owner).
        """
        query = SessionQuery.of(
            env=env,
            tenant=tenant,
            team=team,
            user=user,
            flow=flow,
            conversation=conversation,
            state=state,
            updated_since=updated_since,
            updated_before=updated_before,
            limit=limit,
            after=after,
        )
        now = self.options.clock()
        with self._database("find_sessions"):
            rows = self._audit.find_sessions(query, now)
        return page_of(rows, query.limit, now)

    def history(
        self,
        key: SessionKey | str,
        *,
        from_version: int | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> list[SessionEvent]:
        """The key's events, across all its lives, with version, time, actor and trace
        ids; `[]` for a key never written. Oldest first from `from_version` (default: the
        first) up, or with `reverse` newest first from `from_version` (default: the last)
        down; at most `limit`. The stream is read only up to the last version the window
        needs (each event's session needs the ones before it, so those are read, not
        described); the events after it are never read.

        Raises `SessionError`: `invalid_input` for a bad key, a `from_version` below 1 or a
        `limit` below 1 (or not whole numbers); `unavailable` (database unreachable, store
        closed).
        """
        key = SessionKey(key)
        window = HistoryWindow.of(from_version, limit, reverse)
        with self._database("history"):
            return self._audit.history(key, window)

    def log_position(self) -> int:
        """The position of the log's last event, 0 for an empty log: what `events_after`
        starts from to follow only what comes next. On PostgreSQL a write that drew a lower
        position may still commit after it (see `LogFollower`).

        Raises `SessionError(unavailable)` (database unreachable, store closed)."""
        with self._database("log_position"):
            return self._audit.log_position()

    def events_after(
        self,
        position: int,
        *,
        limit: int = 100,
        tenant: TenantId | str | None = None,
        user: UserId | str | None = None,
        session: SessionKey | str | None = None,
    ) -> list[SessionEvent]:
        """The events at log positions after `position`, in log order, as `history` describes
        them (with `position`): of the next `limit` positions read (one range of the log's
        primary key), those of `tenant`, `user` or `session` when given. Poll it with the
        last position seen to follow the log (`LogFollower` does, for `tail`).

        Raises `SessionError`: `invalid_input` for a negative position, a limit outside
        1..10000 or a bad identifier; `unavailable` (database unreachable, store closed);
        `internal` for an event the log cannot read (run verify).
        """
        if type(position) is not int or position < 0:
            raise invalid_input(f"position must be a whole number of 0 or more; got {position!r}")
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise invalid_input(f"limit must be a whole number from 1 to 10000; got {limit!r}")
        wanted = LogFilter(
            tenant=None if tenant is None else str(TenantId(tenant)),
            user=None if user is None else str(UserId(user)),
            session=None if session is None else str(SessionKey(session)),
        )
        with self._database("events_after"):
            return self._audit.events_after(position, limit, wanted)

    def get_session_at(
        self,
        key: SessionKey | str,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ) -> SessionData | None:
        """The session's data right after stream `version`, or as it was live at instant
        `at` (default: now); None when it held no live session then.

        Raises `SessionError`: `invalid_input` when both `version` and `at` are given, for
        a version that is not an int or that the stream does not have, a naive `at`, or a
        bad key; `unavailable` (database unreachable, store closed).
        """
        key = SessionKey(key)
        if version is not None and at is not None:
            raise invalid_input("give a version or an instant, not both")
        if version is not None:
            version_arg(version, "version")
        at = None if version is not None else self._ops.instant(at)
        with self._database("get_session_at"):
            return self._audit.session_at(key, version, at)

    def diff(self, key: SessionKey | str, v1: int, v2: int) -> SessionDiff:
        """What changed in the session between stream versions `v1` and `v2`.

        Raises `SessionError`: `invalid_input` for versions that are not ints or that the
        stream does not have, or a bad key; `unavailable` (database unreachable, store closed).
        """
        key = SessionKey(key)
        version_arg(v1, "v1")
        version_arg(v2, "v2")
        with self._database("diff"):
            return self._audit.diff(key, v1, v2)

    def explain(
        self,
        ctx: TenantCtx,
        user_id: UserId | str,
        scope: ReplyScope,
        *,
        at: datetime | None = None,
    ) -> Explanation:
        """Why `find_wait_by_scope` with these arguments returns what it returns at `at`
        (default: now), or returned then; it never names another tenant's session.

        Raises `SessionError`: `invalid_input` for a bad user id, `ctx`, `scope` or a naive
        `at`; `unavailable` (database unreachable, store closed).
        """
        ctx, user, scope = expect(ctx, TenantCtx, "ctx"), UserId(user_id), scope_arg(scope)
        instant = self._ops.instant(at)
        with self._database("explain"):
            return self._audit.explain(ctx, user, scope, instant)

    def keys_with_prefix(self, prefix: str, *, limit: int = 10) -> list[SessionKey]:
        """Up to `limit` keys ever written (live or ended) that start with `prefix`, in
        code-point order: one indexed range scan, whatever the log's size. Tools resolve
        a short key with it, as git does a short hash.

        Raises `SessionError(invalid_input)` for a prefix with NUL or lone surrogates, or a
        `limit` below 1."""
        return run_sync(self._ops.keys_with_prefix(prefix, limit=limit))

    def sessions_due(self, now: datetime | None = None) -> list[SessionKey]:
        """The live sessions past their deadline whose expiry is not recorded yet: what
        `sweep_expired(now)` would expire, read from the index, writing nothing.

        Raises `SessionError(invalid_input)` for a naive `now`."""
        return run_sync(self._ops.sessions_due(now))

    def verify(self, *, progress: Progress | None = None) -> VerifyReport:
        """Checks the log's hash chains, the stream heads and the read models against
        the log; a damaged log is reported, not raised. `progress` is called with the
        events checked out of the log's length.

        Raises `SessionError`: `unavailable` (database unreachable, store closed).
        """
        with self._database("verify"):
            return self._audit.verify(progress or no_progress)

    def archive(
        self,
        *,
        ended_before: datetime,
        to: IO[str],
        ctx: TenantCtx | None = None,
        progress: Progress | None = None,
    ) -> ArchiveReport:
        """Moves out of the live log every stream whose session ended (cleared, removed,
        or its expiry recorded: run `sweep_expired` first for the due ones) before
        `ended_before`, with no new life since, into the text file `to`: export lines with
        hashes and, after each batch of `ARCHIVE_BATCH` streams, a trailer with the digest
        of the file so far (it imports into an empty store). Each archived stream leaves a
        tombstone (last version and hash, the archive's digest, the count, when, and the
        actor of `ctx`): `verify` checks the chain through it, `history` names the archive,
        and a new life on the key continues the chain. Each batch is all or nothing; a run
        that stopped part-way can run again (archived streams are skipped). `progress`
        counts the streams archived. Runs as the tables' owner only.

        Raises `SessionError`: `invalid_input` for a naive `ended_before`, a `to` that is not
        a text file, or a `ctx` that is not a `TenantCtx`; `permission_denied` for a role
        that may not delete from the log (nothing archived); `internal` when a stream's
        log does not end where its state row says; `unavailable` (database unreachable,
        store closed).
        """
        ended_before = self._ops.instant(ended_before)
        if not callable(getattr(to, "write", None)):
            raise invalid_input(f"archive writes to a text file, got {type(to).__name__}")
        actor = None
        if ctx is not None:
            ctx = expect(ctx, TenantCtx, "ctx")
            actor = ctx.user_id or ctx.user
        now = self._ops.clock()
        with self._database("archive"):
            return self._archive.archive(
                ended_before, to, now=now, actor=actor, progress=progress or no_progress
            )

    def erase(
        self,
        *,
        session: SessionKey | str | None = None,
        env: EnvId | str | None = None,
        tenant: TenantId | str | None = None,
        team: TeamId | str | None = None,
        user: UserId | str | None = None,
        reason: str,
        ctx: TenantCtx | None = None,
        progress: Progress | None = None,
    ) -> ErasureReport:
        """Erases a subject: the session `session`, or every session (by its last life)
        of the tenant `tenant` in `env`, narrowed to a `team` or a `user`. For each, its
        events since its last erasure lose their bodies (context, cursor, flow, tenant
        context, waits and scopes, user ids, trace ids and actors): each keeps its type,
        version, time, hashes and a salted commitment, so `verify` still passes. An
        `erased` event records the erasure (`reason`, which stays in clear, and the actor
        and trace of `ctx`) and ends the session if it was live; its index row and scope
        history go, its state row is the erasure's. One transaction per session; a run
        that stopped part-way can run again. The session key stays (the stream's name):
        choose keys that hold nothing personal. Afterwards SQLite empties its WAL into the
        file (and, built without `secure_delete` by default, vacuums the file: a rewrite of
        the whole file; a rerun by key that erases nothing more compacts again). Archive
        files, backups, WAL archives and replicas made before
        are not reached: see the README. `progress` counts the sessions erased. Runs as
        the tables' owner only. Reads each session's stream once, holding one at a time.

        Raises `SessionError`: `invalid_input` without a reason (or with one over 1,000
        characters), without a subject, with both a session and an owner, or for a bad
        identifier; `not_found` for a session key never written; `permission_denied` for
        a role that may not overwrite the log (nothing erased); `unavailable` (database
        unreachable, store closed, or on SQLite another process kept the compaction from
        finishing: the erasure is committed; erase one of its sessions by key again);
        `internal` when a session's log does not end where its state row says (run
        verify).
        """
        subject = ErasureSubject.of(session=session, env=env, tenant=tenant, team=team, user=user)
        why = reason_arg(reason)
        caller = None if ctx is None else expect(ctx, TenantCtx, "ctx")
        with self._database("erase"):
            self._access.prepare_erasure()
            return self._erasure.erase(subject, why, caller, progress or no_progress)

    def rebuild_projections(self, *, progress: Progress | None = None) -> None:
        """Rebuilds every read model from the log, in one transaction; readers and
        writers meanwhile see the old models or the new ones, never a mix. `progress` is
        called with the events replayed.

        Raises `SessionError`: `internal` when the log does not replay; `unavailable` (database
        unreachable, store closed).
        """
        with self._database("rebuild_projections"):
            self._audit.rebuild_projections(progress or no_progress)

    def sweep_expired(
        self,
        now: datetime | None = None,
        *,
        ctx: TenantCtx | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Records the expiry of every live session past its deadline at `now` (default:
        the store's clock); returns how many. Reads and writes already treat those
        sessions as gone: the sweep only writes the fact down. `ctx`: the caller's
        context, whose actor and trace ids each `wait_expired` event records.

        The sessions due are listed first (their keys: bounded by the live sessions),
        then expired `SWEEP_BATCH` to a transaction; `progress` counts them.

        Raises `SessionError`: `invalid_input` for a naive `now`, one later than the
        store's clock, or a `ctx` that is not a `TenantCtx`; `unavailable` (database
        unreachable, store closed).
        """
        return run_sync(self._ops.sweep_expired(now, ctx=ctx, progress=progress))

    def export_events(
        self,
        fp: IO[str],
        *,
        tenant: TenantId | str | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Writes the log to the text file `fp` as JSON Lines, one event a line with its
        hashes, in log order (with `tenant`, only that tenant's streams); returns how many.

        Raises `SessionError`: `invalid_input` when `fp` is not a text file or `tenant` is
        not a valid tenant id; `internal` when the log's chains are broken (nothing is
        written); `unavailable` (database unreachable, store closed).
        """
        tenant = None if tenant is None else TenantId(tenant)
        with self._database("export_events"):
            return self._transfer.export_events(fp, tenant, progress or no_progress)

    def import_events(self, fp: IO[str], *, progress: Progress | None = None) -> int:
        """Loads an export (`export_events`) into this empty store, checking every hash;
        returns how many events were loaded. All or nothing.

        Raises `SessionError`: `conflict` when the store is not empty; `invalid_input` when `fp` is
        not a text file or a line is not an intact exported event; `internal` when the
        database refuses the write; `unavailable` (database unreachable, store closed).
        """
        with self._database("import_events"):
            return self._transfer.import_events(fp, progress or no_progress)

    def events(self) -> Iterator[Session.Event]:
        """Every event in the log, in log (commit) order (for tests and tools).

        Raises `SessionError`: `unavailable` (database unreachable, store closed). An event
        edited behind the store's back may raise its decoding error instead: `verify`
        is the operation that reports damage.
        """
        with self._database("reading the log"):
            for _, event in self._audit.logged_events():
                yield event

    def replay_read_models(self) -> MemoryReadModels:
        """The read models rebuilt from the log alone (for tests and tools).

        Raises what `events()` raises.
        """
        with self._database("reading the log"):
            return rebuild_logged(self._audit.logged_events(), self._audit.tombstones())

    def current_read_models(self) -> MemoryReadModels:
        """The read models as stored (compare with `replay_read_models()`).

        Raises `SessionError`: `unavailable` (database unreachable, store closed).
        """
        with self._database("reading the read models"):
            return self._models.load_all()

    def close(self) -> None:
        """Releases connections; later calls raise `SessionError(unavailable)`. Closing
        twice is harmless.

        Raises `SessionError` when the database fails while closing.
        """
        if self._ops.closed:
            return
        self._ops.closed = True
        with database_errors("closing the store"):
            self._log.close()

    @property
    def session_log(self) -> SessionLog:
        """The eventsourcing application of the log (the async store's ports use its
        mapper and recorder)."""
        return self._log

    def log_ports(self, run: Runner, pause: Callable[[float], Awaitable[None]]) -> LogPorts:
        """Ports over this store's log and read models, each call run by `run` (the async
        store runs them on its worker thread). Raises nothing; the ports raise what the
        backend's calls raise."""
        return LogPorts(self._log, self._models, run, pause)

    def _database(self, where: str) -> AbstractContextManager[None]:
        """Every call that touches the database: refused once closed, errors translated."""
        return self._ops.database(where)
