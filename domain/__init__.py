"""The contract of greentic-session: types, rules, the `Session` aggregate, the store interface."""

from domain.errors import ErrorCode, SessionError
from domain.identifiers import EnvId, FlowId, PackId, SessionKey, TeamId, TenantId, UserId
from domain.scope import ReplyScope, WaitScope
from domain.session import SessionCursor, SessionData
from domain.store import SessionStore
from domain.tenant import Impersonation, InvocationDeadline, TenantCtx

__all__ = [
    "EnvId",
    "ErrorCode",
    "FlowId",
    "Impersonation",
    "InvocationDeadline",
    "PackId",
    "ReplyScope",
    "SessionCursor",
    "SessionData",
    "SessionError",
    "SessionKey",
    "SessionStore",
    "TeamId",
    "TenantCtx",
    "TenantId",
    "UserId",
    "WaitScope",
]
