"""The contract's rules, written once: context checks, lookup keys, expiry.

Every backend reaches these through the `Session` aggregate and the store service;
no adapter re-implements them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from greentic_session.domain.errors import SessionError, conflict, invalid_input
from greentic_session.domain.identifiers import SessionKey, UserId
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.tenant import TenantCtx

_T = TypeVar("_T")


def _describe(ctx: TenantCtx) -> str:
    """A context as the Rust crate prints it: the user's presence, never the user.

    Naming the stored user would tell a caller who another session belongs to.
    """
    user = "present" if ctx.normalized_user is not None else "missing"
    return f"env={ctx.env}, tenant={ctx.tenant_id}, team={ctx.normalized_team or '-'}, user={user}"


def _mismatch(expected: TenantCtx, given: TenantCtx, reason: str) -> SessionError:
    """The crate's exact message: "expected" is the stored context, "got" the caller's."""
    expected_text, given_text = _describe(expected), _describe(given)
    return invalid_input(
        f"tenant context mismatch ({reason}): expected {expected_text}, got {given_text}"
    )


def ensure_alignment(ctx: TenantCtx, data: SessionData) -> None:
    """The caller may only store a session inside its own env, tenant, team and user."""
    stored = data.tenant_ctx
    if ctx.env != stored.env or ctx.tenant_id != stored.tenant_id:
        raise _mismatch(stored, ctx, "env/tenant must match")
    if ctx.normalized_team != stored.normalized_team:
        raise _mismatch(stored, ctx, "team must match")
    stored_user = stored.normalized_user
    if stored_user is not None:
        if ctx.normalized_user is None:
            raise _mismatch(stored, ctx, "user required by session but missing in caller context")
        if ctx.normalized_user != stored_user:
            raise _mismatch(stored, ctx, "user must match stored session")


def ensure_preserved(existing: TenantCtx, candidate: TenantCtx) -> None:
    """A stored session keeps its env, tenant, team and user for the rest of its life."""
    if existing.env != candidate.env or existing.tenant_id != candidate.tenant_id:
        raise _mismatch(existing, candidate, "env/tenant cannot change for an existing session")
    if existing.normalized_team != candidate.normalized_team:
        raise _mismatch(existing, candidate, "team cannot change for an existing session")
    old_user, new_user = existing.normalized_user, candidate.normalized_user
    if old_user is not None and old_user != new_user:
        raise _mismatch(existing, candidate, "user cannot change for an existing session")
    if old_user is None and new_user is not None:
        raise _mismatch(existing, candidate, "user cannot be introduced when none was stored")


def ensure_wait_user(ctx: TenantCtx, user_id: UserId, data: SessionData) -> None:
    """A wait belongs to one user: the caller's, the session's and the argument agree."""
    ensure_alignment(ctx, data)
    if ctx.normalized_user is not None and ctx.normalized_user != user_id:
        raise invalid_input("user must match tenant context when registering a wait")
    data_user = data.tenant_ctx.normalized_user
    if data_user is None:
        raise invalid_input("user required by wait but missing in session data")
    if data_user != user_id:
        raise invalid_input("user must match session data when registering a wait")


def user_key(ctx: TenantCtx, user_id: UserId) -> str:
    """Waits are indexed under the caller's (env, tenant, team, user), never the stored one.

    A digest, so an index key has a fixed size however long the identifiers are
    (identifiers cannot contain '/', so the joined text is unambiguous).
    """
    return _digest(_user_text(ctx, user_id))


def scope_key(ctx: TenantCtx, user_id: UserId, scope: ReplyScope) -> str:
    return _digest(f"{_user_text(ctx, user_id)}/{scope.scope_hash()}")


def near_miss_key(env: str, tenant_id: str, scope_hash: str) -> str:
    """What a registration is found by when explain looks for the same scope registered
    under other lookup keys: the stored env and tenant and the scope, never the team or
    user (those are what differ in a near miss), and never across tenants."""
    return _digest(f"{env}/{tenant_id}/{scope_hash}")


def lookup_identity(ctx: TenantCtx, user_id: str) -> tuple[str, str, str, str]:
    """(env, tenant, team, user): what a wait is indexed under ('' for no team)."""
    return (str(ctx.env), str(ctx.tenant_id), str(ctx.normalized_team or ""), str(user_id))


def _user_text(ctx: TenantCtx, user_id: UserId) -> str:
    return "/".join(lookup_identity(ctx, user_id))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


DEFAULT_MAX_CONTEXT_BYTES = 16 * 1024 * 1024


def ensure_context_size(data: SessionData, limit: int) -> None:
    """A bounded snapshot: one caller cannot fill the database or the memory of readers."""
    text = data.context_json
    if len(text) * 4 <= limit:  # at most 4 UTF-8 bytes a character: surely within
        return
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size > limit:
        raise invalid_input(
            f"context_json is {size} bytes, over this store's limit of {limit}; "
            "store large blobs elsewhere and keep a reference in the context"
        )


def version_arg(value: object, name: str) -> int:
    """A stream version given by the caller: an int (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_input(f"{name} must be an int, got {type(value).__name__}")
    return value


def expected_version_arg(value: object) -> int | None:
    if value is None:
        return None
    version = version_arg(value, "expected_version")
    if version < 1:
        raise invalid_input(f"expected_version must be positive, got {version}")
    return version


def ensure_version(key: str, version: int, expected: int | None) -> None:
    """Optimistic concurrency: the caller's change applies only to the version it read."""
    if expected is not None and version != expected:
        raise conflict(
            f"session {key} is at version {version}, not {expected}: another write came "
            "first; read the session and its version again with read_session() and retry"
        )


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    """A zero or negative TTL gives a deadline of now or earlier: already expired."""
    return expires_at is not None and expires_at <= now


def is_live(data: SessionData | None, expires_at: datetime | None, now: datetime) -> bool:
    """Live: the key holds data and its deadline, if any, has not passed."""
    return data is not None and not is_expired(expires_at, now)


def expect(value: object, kind: type[_T], name: str) -> _T:
    """Wrong types are bad input, reported the same way as bad values."""
    if not isinstance(value, kind):
        raise invalid_input(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def deadline(now: datetime, ttl: timedelta | None) -> datetime | None:
    """The instant a wait registered now with this TTL expires (None: never)."""
    if ttl is None:
        return None
    if not isinstance(ttl, timedelta):
        raise invalid_input(f"ttl must be a datetime.timedelta or None, got {type(ttl).__name__}")
    try:
        return now + ttl
    except OverflowError as exc:
        raise invalid_input(f"ttl {ttl} is too large: the deadline is past year 9999") from exc


def only_wait(keys: list[SessionKey]) -> SessionKey | None:
    """The user's one wait for the deprecated `find_by_user`; several make it ambiguous."""
    if len(keys) > 1:
        raise invalid_input("multiple waits exist for user; use scope-based routing instead")
    return keys[0] if keys else None


def prefix_arg(prefix: object, limit: object) -> tuple[str, int]:
    """A key prefix (what no key can hold, NUL or lone surrogates, is refused) and a
    positive limit, for `keys_with_prefix`."""
    if not isinstance(prefix, str):
        raise invalid_input(f"prefix must be a string, got {type(prefix).__name__}")
    if prefix:
        SessionKey(prefix)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise invalid_input(f"limit must be a positive int, got {limit!r}")
    return prefix, limit
