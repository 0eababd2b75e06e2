"""Taking over a reply scope: what `register_wait` decides once the states are loaded.

A scope routes a user's replies to one session. A session that registers a wait on a
scope another session holds takes it over, and the other one is *superseded*: it stops
waiting, its data stays readable. With `if_absent` a live holder wins instead and the
registration is a `conflict`. A session registering again on its own scope takes
nothing from anyone. The service loads the states; these functions decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from greentic_session.domain import rules
from greentic_session.domain.aggregate import Session
from greentic_session.domain.errors import conflict
from greentic_session.domain.identifiers import SessionKey, UserId
from greentic_session.domain.operation import Operation
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.tenant import TenantCtx


@dataclass(frozen=True)
class WaitRequest:
    """One `register_wait` call, its arguments already of the right types."""

    ctx: TenantCtx
    user: UserId
    scope: ReplyScope
    data: SessionData
    ttl: timedelta | None = None
    if_absent: bool = False

    @cached_property
    def user_key(self) -> str:
        """Where the user's waits are indexed (under the caller's context)."""
        return rules.user_key(self.ctx, self.user)

    @cached_property
    def scope_key(self) -> str:
        """Where the scope's holder is indexed (under the caller's context)."""
        return rules.scope_key(self.ctx, self.user, self.scope)


def rival_of(holder: str | None, key: SessionKey) -> SessionKey | None:
    """The other session a registration of `key` may take the scope from: the one the
    scope index names as `holder`, unless that is `key` itself (or nobody)."""
    if holder is None or holder == key:
        return None
    return SessionKey(holder)


def ensure_scope_free(holder: str, held: bool) -> None:
    """`register_wait(if_absent=True)`: a live wait already holding the scope wins.

    Raises `SessionError(conflict)` when `held`."""
    if held:
        raise conflict(
            f"session {holder} already waits on this scope; "
            "resume or clear it, or register without if_absent to supersede it"
        )


def take_scope(
    session: Session,
    wait: WaitRequest,
    op: Operation,
    *,
    holder: str | None,
    rival: Session | None,
) -> None:
    """Park `session` on the scope and supersede the rival that held it.

    `holder`: the session key the scope index named when read (None: nobody).
    `rival`: that holder's aggregate when it is another session (`rival_of`), as stored,
    never a cached state: whether it still waits here decides whether this write appends
    to its stream, and so collides with a write that ends it.
    With `if_absent`, whether the scope is held is decided on the state this write acts
    on (and appends to), `Session.holds`, not on the index entry, which may be older.

    Raises `SessionError(conflict)` when `if_absent` and the holder still holds the
    scope; `SessionError(invalid_input)` for a bad `ttl`, or when the wait's user or
    context does not fit the caller or the stored session."""
    if wait.if_absent and holder is not None:
        occupant = session if holder == session.session_key else rival
        ensure_scope_free(holder, occupant is not None and occupant.holds(wait.scope_key, op.now))
    session.register_wait(
        wait.ctx,
        wait.user,
        wait.scope,
        wait.data,
        rules.deadline(op.now, wait.ttl),
        op,
        user_key=wait.user_key,
        scope_key=wait.scope_key,
    )
    if rival is not None:
        rival.supersede(wait.scope_key, session.session_key, op)
