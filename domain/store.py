"""The store interface: the Rust `SessionStore` trait, same names and parameter order."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from types import TracebackType
from typing import IO, Self

from greentic_session.domain.audit import (
    ArchiveReport,
    ErasureReport,
    Explanation,
    SessionDiff,
    SessionEvent,
    VerifyReport,
)
from greentic_session.domain.identifiers import EnvId, SessionKey, TeamId, TenantId, UserId
from greentic_session.domain.progress import Progress
from greentic_session.domain.rules import only_wait
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.session_search import SessionPage, SessionStateFilter
from greentic_session.domain.stored_session import StoredSession
from greentic_session.domain.tenant import TenantCtx


class SessionStore(ABC):
    """Sessions of paused flows and the waits that route replies back to them.

    Every method accepts plain `str` where it takes an identifier or key and validates
    it; failures are `SessionError`s.
    """

    @abstractmethod
    def create_session(self, ctx: TenantCtx, data: SessionData) -> SessionKey: ...

    @abstractmethod
    def get_session(self, key: SessionKey | str) -> SessionData | None: ...

    @abstractmethod
    def update_session(
        self, key: SessionKey | str, data: SessionData, *, expected_version: int | None = None
    ) -> None:
        """Last writer wins; with `expected_version` (the `version` `read_session` reports),
        only if no other write came in between, else `SessionError(conflict)`."""

    @abstractmethod
    def remove_session(self, key: SessionKey | str, *, ctx: TenantCtx | None = None) -> None:
        """End the live session under `key`; `SessionError(not_found)` if there is none.

        `ctx`: the caller's context, whose actor and trace ids the log records for the
        removal (without it, the log cannot say who removed the session)."""

    @abstractmethod
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
        """A new wait supersedes the scope's holder; with `if_absent`, a live holder makes it
        fail with `SessionError(conflict)` instead."""

    @abstractmethod
    def find_wait_by_scope(
        self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope
    ) -> SessionKey | None: ...

    @abstractmethod
    def list_waits_for_user(self, ctx: TenantCtx, user_id: UserId | str) -> list[SessionKey]: ...

    @abstractmethod
    def clear_wait(self, ctx: TenantCtx, user_id: UserId | str, scope: ReplyScope) -> None: ...

    def find_by_user(
        self, ctx: TenantCtx, user: UserId | str
    ) -> tuple[SessionKey, SessionData] | None:
        """Deprecated (a `DeprecationWarning`): use `find_wait_by_scope` or
        `list_waits_for_user`.

        The user's only wait and its session, or None when the user has none.

        Raises `SessionError`: `invalid_input` when the user has several waits (which
        one is ambiguous) or for a bad user id or `ctx`; `unavailable` (database
        unreachable, store closed).
        """
        warnings.warn(
            "find_by_user is deprecated; use find_wait_by_scope or list_waits_for_user",
            DeprecationWarning,
            stacklevel=2,
        )
        key = only_wait(self.list_waits_for_user(ctx, user))
        data = None if key is None else self.get_session(key)
        return None if key is None or data is None else (key, data)

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AuditedSessionStore(SessionStore):
    """A store that can show its history: the audit and debugging tools over its log."""

    @abstractmethod
    def read_session(self, key: SessionKey | str) -> StoredSession | None:
        """The live session with its stream version, expiry and wait, in one indexed read;
        None when `get_session` would return None (never created, ended, or expired)."""

    @abstractmethod
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
        """A page of the sessions that match every filter given, most recently updated
        first, from the session index (never the log); `page.next` is the `after` of the
        next page."""

    @abstractmethod
    def history(
        self,
        key: SessionKey | str,
        *,
        from_version: int | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> list[SessionEvent]:
        """The key's stream, across all its lives, oldest first (newest first with
        `reverse`): from stream version `from_version` on (down, with `reverse`), at most
        `limit` events."""

    @abstractmethod
    def log_position(self) -> int:
        """The position of the log's last event (0 for an empty log): where to follow from."""

    @abstractmethod
    def events_after(
        self,
        position: int,
        *,
        limit: int = 100,
        tenant: TenantId | str | None = None,
        user: UserId | str | None = None,
        session: SessionKey | str | None = None,
    ) -> list[SessionEvent]:
        """Events logged after log `position`, in log order, each with its position: of the
        next `limit` positions, those of this tenant, user or session (default: all)."""

    @abstractmethod
    def get_session_at(
        self,
        key: SessionKey | str,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ) -> SessionData | None:
        """The session right after stream `version`, or live at instant `at` (default now)."""

    @abstractmethod
    def diff(self, key: SessionKey | str, v1: int, v2: int) -> SessionDiff: ...

    @abstractmethod
    def explain(
        self,
        ctx: TenantCtx,
        user_id: UserId | str,
        scope: ReplyScope,
        *,
        at: datetime | None = None,
    ) -> Explanation:
        """What `find_wait_by_scope` returned (or would have) at `at` (default now), and why."""

    @abstractmethod
    def verify(self, *, progress: Progress | None = None) -> VerifyReport:
        """Hash chains, heads and read models checked against the log; every problem is
        reported, none raised. The log is streamed: memory grows with the number of
        sessions, not events. `progress(done, total)` is called every few thousand events."""

    @abstractmethod
    def archive(
        self,
        *,
        ended_before: datetime,
        to: IO[str],
        ctx: TenantCtx | None = None,
        progress: Progress | None = None,
    ) -> ArchiveReport:
        """Every stream whose session ended before `ended_before`, with no new life since,
        moved out of the live log into `to` (verifiable JSON Lines with a digest trailer),
        a tombstone left for each so that verify, history and a new life carry on."""

    @abstractmethod
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
        """The content of a session's events (or of every session of a tenant, team or
        user) erased from the log and the read models: each event keeps its envelope and
        hashes, so verify still passes; an `erased` event records who, when, why."""

    @abstractmethod
    def rebuild_projections(self, *, progress: Progress | None = None) -> None:
        """Every read model rebuilt from the log, in one transaction, the log streamed.
        Raises `SessionError(internal)`, changing nothing, when the log does not replay."""

    @abstractmethod
    def sweep_expired(
        self,
        now: datetime | None = None,
        *,
        ctx: TenantCtx | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Record the expiry of each live session past its deadline; how many.

        `ctx`: the caller's context, whose actor and trace ids each recorded expiry carries.
        `progress`: called with the sessions done out of those due."""

    @abstractmethod
    def export_events(
        self,
        fp: IO[str],
        *,
        tenant: TenantId | str | None = None,
        progress: Progress | None = None,
    ) -> int:
        """JSON Lines, one event per line with its hashes; how many were written.
        `progress`: called with the log's events read out of its length."""

    @abstractmethod
    def import_events(self, fp: IO[str], *, progress: Progress | None = None) -> int:
        """Load an export into this (empty) store; how many events were loaded.
        `progress`: called with the lines checked, then the events written."""
