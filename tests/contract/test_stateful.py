"""Random operation sequences against the store and a reference model of SEMANTICS.md.

The reference (`reference_model.py`) is plain dicts written from the spec alone (it does
not use `domain.rules`). Every step runs on both; results and error codes must agree.
Lookups and registrations prefer contexts seen before, so sequences hit the interesting
collisions (takeover, re-registration, rebirth, expiry) instead of spreading over
unrelated users.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from greentic_session import (
    EventSourcedSessionStore,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionKey,
    TenantCtx,
)
from tests.conftest import Databases, open_store
from tests.contract.reference_model import (
    ENVS,
    TEAM_FIELDS,
    TEAMS,
    TENANTS,
    USER_FIELDS,
    USERS,
    ModelError,
    Reference,
    Who,
    assert_same,
    outcome,
    who_of,
)
from tests.support import FakeClock

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


def who_ctx(ctx: TenantCtx) -> tuple[str, str, str | None, str | None]:
    team, user = ctx.normalized_team, ctx.normalized_user
    return str(ctx.env), str(ctx.tenant_id), team and str(team), user and str(user)


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
        def read_session(self, draw: st.DataObject) -> None:
            key = self.draw_key(draw)
            read, expected = self.store.read_session(key), self.model.read(key)
            if read is None or expected is None:
                assert read is None and expected is None, (read, expected)
                return
            wait = read.wait
            shown = None if wait is None else (wait.user_id, wait.scope.scope_hash())
            assert (read.data, read.expires_at, shown) == expected
            assert wait is None or wait.expires_at == read.expires_at
            assert read.version == self.store.history(key)[-1].version

        @rule()
        def find_live_sessions(self) -> None:
            """The session index agrees with the model on which sessions are live, whose
            they are, and what they hold."""
            page = self.store.find_sessions(state="live", limit=1000)
            found = {s.session_key: (s.env, s.tenant, s.team, s.user) for s in page.sessions}
            expected = {
                key: who_ctx(entry.data.tenant_ctx) for key, entry in self.model.live_items()
            }
            assert found == expected

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
