"""A reference model of SEMANTICS.md for `test_stateful.py`, and the contexts drawn for it.

The reference is plain dicts written from the spec alone (it does not use `domain.rules`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from greentic_session import ErrorCode, ReplyScope, SessionData, SessionError, TenantCtx
from tests.support import FakeClock

ENVS = ["dev", "prod"]
TENANTS = ["tenant-a", "tenant-b"]
TEAMS: list[str | None] = [None, "team-1"]
USERS = ["u1", "u2", "u3"]

UserKey = tuple[str, str, str | None, str]


# -- the reference model -------------------------------------------------------------------


class ModelError(Exception):
    def __init__(self, code: ErrorCode, message: str | None = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


def team_of(ctx: TenantCtx) -> str | None:
    return ctx.team_id if ctx.team_id is not None else ctx.team


def user_of(ctx: TenantCtx) -> str | None:
    return ctx.user_id if ctx.user_id is not None else ctx.user


def aligned(caller: TenantCtx, stored: TenantCtx) -> bool:
    if (caller.env, caller.tenant_id, team_of(caller)) != (
        stored.env,
        stored.tenant_id,
        team_of(stored),
    ):
        return False
    return user_of(stored) is None or user_of(caller) == user_of(stored)


def preserved(old: TenantCtx, new: TenantCtx) -> bool:
    return (old.env, old.tenant_id, team_of(old), user_of(old)) == (
        new.env,
        new.tenant_id,
        team_of(new),
        user_of(new),
    )


def user_key(ctx: TenantCtx, user: str) -> UserKey:
    return (ctx.env, ctx.tenant_id, team_of(ctx), user)


@dataclass
class Entry:
    data: SessionData
    expires_at: datetime | None = None
    wait: tuple[UserKey, str] | None = None
    order: int = 0


class Reference:
    """SEMANTICS.md as dictionaries: one entry per live session key."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sessions: dict[str, Entry] = {}
        self.registrations = 0

    def live(self, key: str) -> Entry | None:
        entry = self.sessions.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= self.clock():
            del self.sessions[key]
            return None
        return entry

    def live_items(self) -> list[tuple[str, Entry]]:
        return [(key, entry) for key in list(self.sessions) if (entry := self.live(key))]

    def check_create(self, ctx: TenantCtx, data: SessionData) -> None:
        if not aligned(ctx, data.tenant_ctx):
            raise ModelError(ErrorCode.INVALID_INPUT)

    def insert(self, key: str, data: SessionData) -> None:
        assert self.live(key) is None, "create_session returned a key already in use"
        self.sessions[key] = Entry(data)

    def get(self, key: str) -> SessionData | None:
        entry = self.live(key)
        return entry.data if entry else None

    def read(self, key: str) -> tuple[SessionData, datetime | None, tuple[str, str] | None] | None:
        """What `read_session` says of a live session: data, deadline and the wait's (user,
        scope hash). Its version is the log's, which the model does not count."""
        entry = self.live(key)
        if entry is None:
            return None
        wait = None if entry.wait is None else (entry.wait[0][3], entry.wait[1])
        return entry.data, entry.expires_at, wait

    def require(self, key: str) -> Entry:
        entry = self.live(key)
        if entry is None:
            raise ModelError(ErrorCode.NOT_FOUND, f"session {key} was not found")
        return entry

    def update(self, key: str, data: SessionData) -> None:
        entry = self.require(key)
        if not preserved(entry.data.tenant_ctx, data.tenant_ctx):
            raise ModelError(ErrorCode.INVALID_INPUT)
        entry.data = data

    def remove(self, key: str) -> None:
        self.require(key)
        del self.sessions[key]

    def register(
        self,
        ctx: TenantCtx,
        user: str,
        scope: ReplyScope,
        key: str,
        data: SessionData,
        ttl: timedelta | None,
    ) -> None:
        stored_user = user_of(data.tenant_ctx)
        caller_user = user_of(ctx)
        if (
            not aligned(ctx, data.tenant_ctx)
            or (caller_user is not None and caller_user != user)
            or stored_user != user
        ):
            raise ModelError(ErrorCode.INVALID_INPUT)
        entry = self.live(key)
        if entry is not None and not preserved(entry.data.tenant_ctx, data.tenant_ctx):
            raise ModelError(ErrorCode.INVALID_INPUT)
        if entry is None:
            entry = self.sessions[key] = Entry(data)
        target = (user_key(ctx, user), scope.scope_hash())
        for other_key, other in self.live_items():
            if other_key != key and other.wait == target:
                other.wait = None
        self.registrations += 1
        entry.data = data
        entry.expires_at = None if ttl is None else self.clock() + ttl
        entry.wait = target
        entry.order = self.registrations

    def visible(self, entry: Entry, ctx: TenantCtx, user: str) -> bool:
        stored = entry.data.tenant_ctx
        return (stored.env, stored.tenant_id, team_of(stored), user_of(stored)) == (
            ctx.env,
            ctx.tenant_id,
            team_of(ctx),
            user,
        )

    def find(self, ctx: TenantCtx, user: str, scope: ReplyScope) -> str | None:
        target = (user_key(ctx, user), scope.scope_hash())
        found = [
            key
            for key, entry in self.live_items()
            if entry.wait == target and self.visible(entry, ctx, user)
        ]
        assert len(found) <= 1, "the model let two sessions own one scope"
        return found[0] if found else None

    def waits(self, ctx: TenantCtx, user: str) -> list[str]:
        wanted = user_key(ctx, user)
        waiting = [
            (entry.order, key)
            for key, entry in self.live_items()
            if entry.wait is not None and entry.wait[0] == wanted and self.visible(entry, ctx, user)
        ]
        return [key for _, key in sorted(waiting)]

    def clear(self, ctx: TenantCtx, user: str, scope: ReplyScope) -> None:
        key = self.find(ctx, user, scope)
        if key is not None:
            del self.sessions[key]

    def find_by_user(self, ctx: TenantCtx, user: str) -> tuple[str, SessionData] | None:
        keys = self.waits(ctx, user)
        if not keys:
            return None
        if len(keys) > 1:
            raise ModelError(ErrorCode.INVALID_INPUT)
        return keys[0], self.sessions[keys[0]].data


# -- drawing contexts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    env: str
    tenant: str
    team: str | None
    user: str | None

    def ctx(
        self, team_field: str, user_field: str, with_user: bool = True, display: str | None = None
    ) -> TenantCtx:
        """The context, with team and user in the legacy or the current field.

        `display` replaces the legacy `tenant` name, which lookups must ignore for `tenant_id`.
        """
        fields: dict[str, Any] = {
            "env": self.env,
            "tenant": display or self.tenant,
            "tenant_id": self.tenant,
        }
        if self.team is not None:
            fields.update({name: self.team for name in team_field.split("+")})
        if self.user is not None and with_user:
            fields.update({name: self.user for name in user_field.split("+")})
        return TenantCtx(**fields)

    def varied(self, variant: str) -> Who:
        if variant == "other-user":
            return Who(self.env, self.tenant, self.team, USERS[(self.index(self.user) + 1) % 3])
        if variant == "no-user":
            return Who(self.env, self.tenant, self.team, None)
        if variant == "other-team":
            return Who(self.env, self.tenant, TEAMS[1] if self.team is None else None, self.user)
        if variant == "other-env":
            return Who(ENVS[1 - ENVS.index(self.env)], self.tenant, self.team, self.user)
        if variant == "other-tenant":
            return Who(self.env, TENANTS[1 - TENANTS.index(self.tenant)], self.team, self.user)
        return self

    @staticmethod
    def index(user: str | None) -> int:
        return USERS.index(user) if user in USERS else 0


def who_of(ctx: TenantCtx) -> Who:
    return Who(ctx.env, ctx.tenant_id, team_of(ctx), user_of(ctx))


TEAM_FIELDS = st.sampled_from(["team_id", "team", "team+team_id"])
USER_FIELDS = st.sampled_from(["user_id", "user", "user+user_id"])


def outcome(call: Callable[[], Any]) -> tuple[str, Any, str | None]:
    """What a call did: ("ok", result, None) or ("error", code, message)."""
    try:
        return ("ok", call(), None)
    except ModelError as error:
        return ("error", error.code, error.message)
    except SessionError as error:
        return ("error", error.code, error.message)


def assert_same(expected: tuple[str, Any, str | None], actual: tuple[str, Any, str | None]) -> None:
    """Results and error codes must agree; messages too where the model states one."""
    if expected[0] == "error" and expected[2] is None:
        actual = (actual[0], actual[1], None)
    assert actual == expected
