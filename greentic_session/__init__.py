"""greentic-session: an event-sourced session store for conversational and flow runtimes.

Everything an application needs is importable from here::

    from greentic_session import open_store, ReplyScope, SessionData, TenantCtx

The layers behind it (`greentic_session.domain`, `.projections`, `.adapters`) are built from
the repository's folders of the same names; import from them only to extend the store.
"""

from importlib.metadata import PackageNotFoundError, version

from greentic_session.adapters.bootstrap.open_async_store import (
    OpeningAsyncStore,
    open_async_store,
)
from greentic_session.adapters.bootstrap.open_store import open_store
from greentic_session.adapters.service.async_session_store import AsyncSessionStore
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
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
from greentic_session.domain.mapping import (
    canonical_session_key,
    telegram_update_to_session_key,
    webhook_to_session_key,
)
from greentic_session.domain.scope import ReplyScope, WaitScope
from greentic_session.domain.session import SessionCursor, SessionData
from greentic_session.domain.session_search import SessionPage, SessionStateFilter, SessionSummary
from greentic_session.domain.store import AuditedSessionStore, SessionStore
from greentic_session.domain.stored_session import StoredSession, StoredWait
from greentic_session.domain.tenant import Impersonation, InvocationDeadline, TenantCtx

try:
    __version__ = version("greentic-session")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AsyncSessionStore",
    "AuditedSessionStore",
    "EnvId",
    "ErrorCode",
    "EventSourcedSessionStore",
    "EventType",
    "Explanation",
    "FieldChange",
    "FlowId",
    "Impersonation",
    "InvocationDeadline",
    "OpeningAsyncStore",
    "PackId",
    "ReplyScope",
    "SessionCursor",
    "SessionData",
    "SessionDiff",
    "SessionError",
    "SessionEvent",
    "SessionKey",
    "SessionPage",
    "SessionStateFilter",
    "SessionStore",
    "SessionSummary",
    "StoredSession",
    "StoredWait",
    "TeamId",
    "TenantCtx",
    "TenantId",
    "UserId",
    "VerifyReport",
    "WaitScope",
    "__version__",
    "canonical_session_key",
    "open_async_store",
    "open_store",
    "telegram_update_to_session_key",
    "webhook_to_session_key",
]
