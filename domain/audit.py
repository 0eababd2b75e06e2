"""What the audit and debugging tools answer with: public, serializable models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData


class EventType(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    WAIT_REGISTERED = "wait_registered"
    WAIT_CLEARED = "wait_cleared"
    WAIT_SUPERSEDED = "wait_superseded"
    WAIT_EXPIRED = "wait_expired"
    REMOVED = "removed"
    ERASED = "erased"
    """The erasure of the stream's events before it (theirs keep their own types)."""
    ARCHIVED = "archived"
    """Not an event of the log: the versions up to this one were moved to an archive."""


class AuditModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class SessionEvent(AuditModel):
    """One event of a session's stream, with the session as it was right after it."""

    session_key: SessionKey
    version: int
    """1-based place in the key's stream (all lives of the key share one stream)."""
    position: int
    """Place in this store's log; an import numbers positions afresh, in the same order."""
    type: EventType
    recorded_at: AwareDatetime
    data: SessionData | None
    """The session after the event; None when it ended (cleared, expired, removed)."""
    scope: ReplyScope | None = None
    user_id: str | None = None
    superseded_by: SessionKey | None = None
    expires_at: AwareDatetime | None = None
    """The session's deadline after the event (for `wait_expired`: the deadline that passed)."""
    trace_id: str | None = None
    correlation_id: str | None = None
    provider_id: str | None = None
    actor: str | None = None
    """The user in the caller's context, when it had one."""
    hash: str
    prev_hash: str
    archive_digest: str | None = None
    """For an `archived` entry: the digest of the archive file that holds its events."""
    archived_events: int | None = None
    """For an `archived` entry: how many events that archive took of this stream."""
    erased: bool = False
    """The event's content was erased: its type, time and hashes are all that is left."""
    erasure_reason: str | None = None
    """For an `erased` entry: why, as the eraser gave it."""
    erased_events: int | None = None
    """For an `erased` entry: how many events it erased."""


class FieldChange(AuditModel):
    field: str
    before: Any
    after: Any


class SessionDiff(AuditModel):
    """What changed from one version of a session to another."""

    session_key: SessionKey
    from_version: int
    to_version: int
    changes: list[FieldChange]
    """Flow, pack, cursor fields, tenant context, wait and liveness: each one that differs."""
    context_patch: list[dict[str, Any]] | None = None
    """RFC 6902 JSON Patch from the old `context_json` to the new, when both are JSON."""
    context_diff: str | None = None
    """A unified text diff of `context_json` when either side is not JSON."""


class Explanation(AuditModel):
    """What `find_wait_by_scope` returned (or would have) at an instant, and why."""

    at: datetime
    user_key: str
    scope_key: str
    scope_hash: str
    session_key: SessionKey | None
    reason: str
    trail: list[str]
    """The log's events about this scope up to `at`, oldest first, in words."""


class ArchivedStream(AuditModel):
    """The tombstone of a stream whose events went to an archive: what the live store keeps
    so that its chain stays checkable and a new life continues it. No session content:
    versions, hashes, digest, counts, times and the archiving actor only."""

    session_key: SessionKey
    last_version: int
    """The stream's last version moved out: versions up to it are in archives."""
    last_hash: str
    """The hash of that event: the stream's next event links to it."""
    archive_digest: str
    """SHA-256 (hex) of the archive file's lines before its trailer line with this digest."""
    events: int
    """How many events this archive took (from the previous tombstone's version on)."""
    archived_at: AwareDatetime
    archived_by: str | None = None
    """The user in the archiving caller's context, when it had one."""


class ArchiveReport(AuditModel):
    """What `archive` moved out: streams, events, and the archive file's digest."""

    streams: int
    events: int
    digest: str
    """SHA-256 (hex) of the file's lines before its last line (the trailer naming it)."""


class ArchiveSummary(AuditModel):
    """The streams of the live store archived into one archive file."""

    digest: str
    streams: int
    events: int


class ErasureSummary(AuditModel):
    """One erasure the log records: whose, when, by whom, why, and how many events."""

    session_key: SessionKey
    version: int
    """The version of the `erased` event in the key's stream."""
    erased_at: AwareDatetime
    erased_by: str | None = None
    """The user in the erasing caller's context, when it had one."""
    reason: str
    events: int


class ErasureReport(AuditModel):
    """What `erase` did: the sessions whose events it erased, and how many events."""

    sessions: list[SessionKey]
    events: int


class VerifyReport(AuditModel):
    ok: bool
    problems: list[str]
    streams: int
    events: int
    archived: list[ArchiveSummary] = []
    """The streams moved to archives, per archive (their tombstones were checked)."""
    erasures: list[ErasureSummary] = []
    """Every erasure in the log, in log order (each checked against the events it erased)."""
    unchecked_erased: int = 0
    """Erased events of 0.1.0 (no commitment): their links were followed, their hashes
    could not be recomputed."""
