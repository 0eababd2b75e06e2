"""The contract of greentic-session: types, rules, the `Session` aggregate, the store interface."""

from domain.audit import (
    EventType,
    Explanation,
    FieldChange,
    SessionDiff,
    SessionEvent,
    VerifyReport,
)
from domain.errors import ErrorCode, SessionError
from domain.identifiers import EnvId, FlowId, PackId, SessionKey, TeamId, TenantId, UserId
from domain.scope import ReplyScope, WaitScope
from domain.session import SessionCursor, SessionData
from domain.store import AuditedSessionStore, SessionStore
from domain.tenant import Impersonation, InvocationDeadline, TenantCtx

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
