"""The contract of greentic-session: types, rules, the `Session` aggregate, the store interface."""

from greentic_session.domain.audit import (
    EventType,
    Explanation,
    FieldChange,
    SessionDiff,
    SessionEvent,
    VerifyReport,
)
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.identifiers import (
    EnvId,
    FlowId,
    PackId,
    SessionKey,
    TeamId,
    TenantId,
    UserId,
)
from greentic_session.domain.scope import ReplyScope, WaitScope
from greentic_session.domain.session import SessionCursor, SessionData
from greentic_session.domain.store import AuditedSessionStore, SessionStore
from greentic_session.domain.tenant import Impersonation, InvocationDeadline, TenantCtx

__all__ = [
    "AuditedSessionStore",
    "EnvId",
    "ErrorCode",
    "EventType",
    "Explanation",
    "FieldChange",
    "FlowId",
    "Impersonation",
    "InvocationDeadline",
    "PackId",
    "ReplyScope",
    "SessionCursor",
    "SessionData",
    "SessionDiff",
    "SessionError",
    "SessionEvent",
    "SessionKey",
    "SessionStore",
    "TeamId",
    "TenantCtx",
    "TenantId",
    "UserId",
    "VerifyReport",
    "WaitScope",
]
