"""Random operation sequences against the store and a reference model of SEMANTICS.md.

The reference is plain dicts written from the spec alone (it does not use `domain.rules`).
Every step runs on both; results and error codes must agree. Lookups and registrations
prefer contexts seen before, so sequences hit the interesting collisions (takeover,
re-registration, rebirth, expiry) instead of spreading over unrelated users.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from greentic_session import (
    ErrorCode,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionError,
    SessionKey,
    TenantCtx,
)
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from tests.conftest import Databases, open_store
from tests.support import FakeClock

ENVS = ["dev", "prod"]
TENANTS = ["tenant-a", "tenant-b"]
TEAMS: list[str | None] = [None, "team-1"]
USERS = ["u1", "u2", "u3"]
SCOPES = [
    ReplyScope(conversation="chat-1"),
    ReplyScope(conversation="chat-1", thread="t-1"),
    ReplyScope(conversation="chat-2", reply_to="m-1", correlation="c-1"),
]
FIXED_KEYS = ["k1", "k2", "k3", "k4"]
TTLS: list[timedelta | None] = [
    None,
    None,
    None,
    timedelta(0),
    timedelta(seconds=-5),
    timedelta(minutes=1),
    timedelta(minutes=10),
]
FRIENDLY_TTLS: list[timedelta | None] = [None, timedelta(minutes=1), timedelta(minutes=10)]
CLOCK_STEPS = [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=5)]
PAYLOAD_TAILS = ["", " ü", "\x00", '\n\\"', "😀"]
VARIANTS = ["same"] * 10 + ["other-user", "no-user", "other-team", "other-env", "other-tenant"]

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


# -- the state machine ---------------------------------------------------------------------


def machine_for(new_url: Callable[[], str]) -> type[RuleBasedStateMachine]:
    """A machine class whose every run starts on a fresh database from `new_url`."""

    class SessionStoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = FakeClock()
            self.store = open_store(new_url(), clock=self.clock)
            self.model = Reference(self.clock)
            self.created: list[str] = []
            self.seen: list[Who] = []
            self.registered: list[tuple[Who, ReplyScope]] = []
            self.writes = 0

        def teardown(self) -> None:
            """Whatever the sequence, the stored read models are what the log replays to."""
            try:
                store = self.store
                assert isinstance(store, EventSourcedSessionStore)
                assert store.replay_read_models() == store.current_read_models()
            finally:
                self.store.close()

        # drawing helpers

        def often(self, draw: st.DataObject) -> bool:
            return draw.draw(st.integers(0, 7)) > 0

        def draw_who(self, draw: st.DataObject) -> Who:
            """Mostly a context used before, so operations meet each other's sessions."""
            if self.seen and self.often(draw):
                return draw.draw(st.sampled_from(self.seen))
            who = Who(
                draw.draw(st.sampled_from(ENVS)),
                draw.draw(st.sampled_from(TENANTS)),
                draw.draw(st.sampled_from(TEAMS)),
                draw.draw(st.sampled_from(USERS)),
            )
            self.seen.append(who)
            return who

        def draw_ctx(self, draw: st.DataObject, who: Who, with_user: bool = True) -> TenantCtx:
            display = draw.draw(st.sampled_from([None, None, "Display-Name"]))
            return who.ctx(draw.draw(TEAM_FIELDS), draw.draw(USER_FIELDS), with_user, display)

        def draw_key(self, draw: st.DataObject) -> str:
            """Half the time a live key; otherwise any key, live, ended or never used."""
            live = [key for key, _ in self.model.live_items()]
            prefer_live = draw.draw(st.booleans())
            if live and prefer_live:
                return draw.draw(st.sampled_from(live))
            return draw.draw(st.sampled_from(FIXED_KEYS + self.created[-3:]))

        def draw_variant(self, draw: st.DataObject, who: Who) -> Who:
            return who.varied(draw.draw(st.sampled_from(VARIANTS)))

        def draw_data(self, draw: st.DataObject, who: Who) -> SessionData:
            self.writes += 1
            tail = draw.draw(st.sampled_from(PAYLOAD_TAILS))
            return SessionData(
                tenant_ctx=self.draw_ctx(draw, who),
                flow_id="flow.main",
                cursor=SessionCursor(node_pointer=f"node-{self.writes}"),
                context_json=f'{{"write":{self.writes}}}{tail}',
            )

        def owner_of(self, draw: st.DataObject, key: str) -> Who:
            """Mostly the context of the key's live session, so writes to it can succeed."""
            entry = self.model.live(key)
            if entry is not None and self.often(draw):
                return who_of(entry.data.tenant_ctx)
            return self.draw_who(draw)

        def lookup(
            self, draw: st.DataObject, aim: bool = True
        ) -> tuple[TenantCtx, str, ReplyScope]:
            """Mostly where a wait was registered before; the caller's user is optional."""
            revisit = self.often(draw) if aim else draw.draw(st.booleans())
            if self.registered and revisit:
                who, scope = draw.draw(st.sampled_from(self.registered))
            else:
                who, scope = self.draw_who(draw), draw.draw(st.sampled_from(SCOPES))
            user = who.user or draw.draw(st.sampled_from(USERS))
            with_user = draw.draw(st.booleans())
            ctx = self.draw_ctx(draw, Who(who.env, who.tenant, who.team, user), with_user)
            return ctx, user, scope

        # rules

        def register(self, draw: st.DataObject, friendly: bool) -> None:
            """A friendly registration satisfies every context rule; others may break one."""
            key = self.draw_key(draw)
            who = self.owner_of(draw, key)
            if who.user is None and (friendly or self.often(draw)):
                who = who.varied("other-user")
            user = who.user or draw.draw(st.sampled_from(USERS))
            if not friendly and not self.often(draw):
                user = draw.draw(st.sampled_from(USERS))
            caller = self.draw_ctx(draw, who, friendly or self.often(draw))
            data = self.draw_data(draw, who if friendly else self.draw_variant(draw, who))
            scope = draw.draw(st.sampled_from(SCOPES))
            ttl = draw.draw(st.sampled_from(FRIENDLY_TTLS if friendly else TTLS))
            expected = outcome(lambda: self.model.register(caller, user, scope, key, data, ttl))
            actual = outcome(lambda: self.store.register_wait(caller, user, scope, key, data, ttl))
            assert_same(expected, actual)
            if expected[0] == "ok":
                self.registered.append((Who(who.env, who.tenant, who.team, user), scope))

        @initialize(draw=st.data())
        def start_with_a_wait(self, draw: st.DataObject) -> None:
            self.register(draw, friendly=True)

        @rule(draw=st.data())
        def register_wait(self, draw: st.DataObject) -> None:
            self.register(draw, friendly=True)

        @rule(draw=st.data())
        def register_wait_breaking_rules(self, draw: st.DataObject) -> None:
            self.register(draw, friendly=False)

        @rule(draw=st.data())
        def find_wait_by_scope(self, draw: st.DataObject) -> None:
            ctx, user, scope = self.lookup(draw)
            expected = self.model.find(ctx, user, scope)
            assert self.store.find_wait_by_scope(ctx, user, scope) == expected

        @rule(draw=st.data())
        def list_waits_for_user(self, draw: st.DataObject) -> None:
            ctx, user, _ = self.lookup(draw)
            assert self.store.list_waits_for_user(ctx, user) == self.model.waits(ctx, user)

        @rule(draw=st.data())
        def find_by_user(self, draw: st.DataObject) -> None:
            ctx, user, _ = self.lookup(draw)

            def call_store() -> Any:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        return self.store.find_by_user(ctx, user)
                    finally:
                        assert any(w.category is DeprecationWarning for w in caught)

            assert_same(outcome(lambda: self.model.find_by_user(ctx, user)), outcome(call_store))

        @rule(draw=st.data())
        def clear_wait(self, draw: st.DataObject) -> None:
            ctx, user, scope = self.lookup(draw, aim=False)
            assert_same(
                outcome(lambda: self.model.clear(ctx, user, scope)),
                outcome(lambda: self.store.clear_wait(ctx, user, scope)),
            )

        @rule(draw=st.data())
        def get_session(self, draw: st.DataObject) -> None:
            key = self.draw_key(draw)
            assert self.store.get_session(key) == self.model.get(key)

        @rule(draw=st.data())
        def create_session(self, draw: st.DataObject) -> None:
            who = self.draw_who(draw)
            caller = self.draw_ctx(draw, who, self.often(draw))
            data = self.draw_data(draw, self.draw_variant(draw, who))
            expected = outcome(lambda: self.model.check_create(caller, data))
            actual = outcome(lambda: self.store.create_session(caller, data))
            if expected[0] == "error":
                assert_same(expected, actual)
                return
            assert actual[0] == "ok", actual
            key = actual[1]
            assert isinstance(key, SessionKey)
            self.model.insert(key, data)
            self.created.append(key)

        @rule(draw=st.data())
        def update_session(self, draw: st.DataObject) -> None:
            key = self.draw_key(draw)
            data = self.draw_data(draw, self.draw_variant(draw, self.owner_of(draw, key)))
            assert_same(
                outcome(lambda: self.model.update(key, data)),
                outcome(lambda: self.store.update_session(key, data)),
            )

        @rule(draw=st.data())
        def remove_session(self, draw: st.DataObject) -> None:
            key = self.draw_key(draw)
            assert_same(
                outcome(lambda: self.model.remove(key)),
                outcome(lambda: self.store.remove_session(key)),
            )

        @rule(step=st.sampled_from(CLOCK_STEPS))
        def advance_clock(self, step: timedelta) -> None:
            self.clock.advance(step)

    return SessionStoreMachine


EXAMPLES = {"memory": 50, "sqlite": 30, "postgres": 12}
# A deeper search on demand, e.g. GREENTIC_SESSION_STATEFUL_SCALE=20 for 20x the examples.
SCALE = int(os.environ.get("GREENTIC_SESSION_STATEFUL_SCALE", "1"))


def test_store_matches_the_reference_model(databases: Databases, backend: str) -> None:
    run_state_machine_as_test(
        machine_for(databases.new_url),
        settings=settings(
            max_examples=EXAMPLES[backend] * SCALE,
            stateful_step_count=30,
            deadline=None,
        ),
    )


def test_reference_model_refuses_what_the_spec_refuses() -> None:
    """The model itself follows the spec on the cases the contract tests pin down."""
    clock = FakeClock()
    model = Reference(clock)
    alice = Who("dev", "tenant-a", None, "u1")
    ctx = alice.ctx("team_id", "user_id")
    data = SessionData(
        tenant_ctx=ctx, flow_id="f", cursor=SessionCursor(node_pointer="n"), context_json="{}"
    )
    model.register(ctx, "u1", SCOPES[0], "first", data, None)
    model.register(ctx, "u1", SCOPES[0], "second", data, timedelta(minutes=1))
    assert model.find(ctx, "u1", SCOPES[0]) == "second"
    assert model.waits(ctx, "u1") == ["second"]
    assert model.get("first") == data
    clock.advance(timedelta(minutes=1))
    assert model.find(ctx, "u1", SCOPES[0]) is None
    with pytest.raises(ModelError) as error:
        model.update("second", data)
    assert error.value.message == "session second was not found"
    with pytest.raises(ModelError):
        model.register(ctx, "u2", SCOPES[1], "third", data, None)
