"""`explain` reads the scope history and the streams it names; a replay of the whole log
(what `explain` did before the scope history) must give the very same answer, on every
history and for every instant."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from greentic_session import (
    AuditedSessionStore,
    EventSourcedSessionStore,
    Explanation,
    ReplyScope,
    TenantCtx,
    UserId,
)
from greentic_session.projections import scope_explanation
from tests.conftest import Databases
from tests.contract.audit_helpers import CTX, OTHER_SCOPE, SCOPE, USER, populate
from tests.contract.test_stateful import machine_for
from tests.support import FakeClock, make_ctx

LOOKBACKS = [timedelta(0), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=20)]


def whole_log_explain(
    store: AuditedSessionStore, ctx: TenantCtx, user: str, scope: ReplyScope, at: datetime
) -> Explanation:
    """The explanation from every event of the log, in log order."""
    assert isinstance(store, EventSourcedSessionStore)
    events = ((0, event) for event in store.events())
    return scope_explanation.explain(events, ctx, UserId(user), scope, at)


def test_explain_agrees_with_the_whole_log_at_every_instant_of_a_history(
    store: AuditedSessionStore, fake_clock: FakeClock
) -> None:
    start = fake_clock.now
    populate(store, fake_clock)
    instants = [start + timedelta(seconds=30 * n) for n in range(-1, 14)]
    lookups = [
        (CTX, USER, SCOPE),
        (CTX, USER, OTHER_SCOPE),
        (make_ctx(team="sales", user=USER), USER, SCOPE),
        (make_ctx(user="bob"), "bob", SCOPE),
    ]

    for ctx, user, scope in lookups:
        for at in instants:
            assert store.explain(ctx, user, scope, at=at) == whole_log_explain(
                store, ctx, user, scope, at
            ), (user, scope, at)


def explaining_machine(new_url: Callable[[], str]) -> type[RuleBasedStateMachine]:
    """The stateful test's random histories, with a rule that explains a lookup at a
    random instant both ways."""

    class ExplainingMachine(machine_for(new_url)):  # type: ignore[misc]
        @rule(draw=st.data())
        def explain_both_ways(self, draw: st.DataObject) -> None:
            ctx, user, scope = self.lookup(draw)
            at = self.clock.now - draw.draw(st.sampled_from(LOOKBACKS))
            expected = whole_log_explain(self.store, ctx, user, scope, at)
            assert self.store.explain(ctx, user, scope, at=at) == expected

    return ExplainingMachine


EXAMPLES = {"memory": 40, "sqlite": 20, "postgres": 8}

# A deeper search on demand, e.g. GREENTIC_SESSION_STATEFUL_SCALE=20 for 20x the examples.
SCALE = int(os.environ.get("GREENTIC_SESSION_STATEFUL_SCALE", "1"))


def test_explain_agrees_with_the_whole_log_on_random_histories(
    databases: Databases, backend: str
) -> None:
    run_state_machine_as_test(
        explaining_machine(databases.new_url),
        settings=settings(
            max_examples=EXAMPLES[backend] * SCALE,
            stateful_step_count=30,
            deadline=None,
        ),
    )
