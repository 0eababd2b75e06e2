"""No tenant ever sees another tenant's sessions, whatever it writes and looks up."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from greentic_session import (
    EventSourcedSessionStore,
    ReplyScope,
    SessionData,
    SessionError,
    TenantCtx,
)
from tests.conftest import Databases
from tests.hostile import FIXED_SCOPES, USERS, examples, fresh_store, outcome
from tests.strategies import contexts, data_fields, hostile_text, identifier, scopes
from tests.support import make_ctx, make_data, make_scope

SENTINEL_TENANT = "sentinel-tenant"
SENTINEL_CTX = make_ctx(env="dev", tenant=SENTINEL_TENANT, team="support", user="alice")
SENTINEL_SCOPE = make_scope("chat-1", "thread-1")
SENTINEL_KEY = "sentinel-key-5f1c"
SENTINEL_SECRET = "sentinel-secret-9a7e"


def seed_sentinel(store: EventSourcedSessionStore) -> tuple[SessionData, str, int]:
    """The sentinel tenant's waiting session and a second, plain one."""
    data = make_data(SENTINEL_CTX, context_json=f'{{"secret": "{SENTINEL_SECRET}"}}')
    store.register_wait(SENTINEL_CTX, "alice", SENTINEL_SCOPE, SENTINEL_KEY, data)
    plain = store.create_session(SENTINEL_CTX, data)
    return data, plain, len(store.history(SENTINEL_KEY))


@st.composite
def other_tenant_contexts(draw: st.DrawFn) -> TenantCtx:
    """Any context of another tenant: same env, team and user names as the sentinel's, and
    sometimes the sentinel's tenant in the legacy `tenant` field (lookups use `tenant_id`)."""
    ctx = draw(contexts(teams=("support",), users=USERS, huge=False))
    assume(ctx.tenant_id != SENTINEL_TENANT)
    legacy = draw(st.sampled_from([None, "tenant", "team", "user"]))
    if legacy == "tenant":
        ctx = ctx.model_copy(update={"tenant": SENTINEL_TENANT})
    elif legacy == "team":
        ctx = ctx.model_copy(update={"team": "support", "team_id": "other-team"})
    elif legacy == "user":
        ctx = ctx.model_copy(update={"user": "alice", "user_id": "other-user"})
    return ctx


@dataclass(frozen=True)
class Step:
    """Another tenant writes (maybe with the sentinel's key, scope or user names), then
    looks up with hostile values."""

    ctx: TenantCtx
    user: str
    scope: ReplyScope
    fields: dict[str, Any]
    key: str  # "sentinel", "plain" (the sentinel's other session) or a key of its own
    write: str


STEPS = st.lists(
    st.builds(
        Step,
        ctx=other_tenant_contexts(),
        user=st.one_of(st.just("alice"), identifier(*USERS), hostile_text(huge=False)),
        scope=st.one_of(st.just(SENTINEL_SCOPE), scopes(*FIXED_SCOPES, huge=False)),
        fields=data_fields(huge=False),
        key=st.sampled_from(["sentinel", "plain", "k1"]),
        write=st.sampled_from(["register", "update", "clear", "create", "none"]),
    ),
    min_size=1,
    max_size=5,
)


def other_tenant_step(
    step: Step, store: EventSourcedSessionStore, plain: str, data: SessionData
) -> None:
    """No answer names a sentinel session, and none holds its data."""
    ctx, user, scope = step.ctx, step.user, step.scope
    own = SessionData(tenant_ctx=ctx, **step.fields)
    key = {"sentinel": SENTINEL_KEY, "plain": plain}.get(step.key, step.key)
    secrets = {SENTINEL_KEY, plain, SENTINEL_SECRET}
    if step.write == "register":
        outcome(lambda: store.register_wait(ctx, user, scope, key, own))
    elif step.write == "update":
        outcome(lambda: store.update_session(key, own))
    elif step.write == "clear":
        outcome(lambda: store.clear_wait(ctx, user, scope))
    elif step.write == "create":
        outcome(lambda: store.create_session(ctx, own))
    assert outcome(lambda: store.find_wait_by_scope(ctx, user, scope)) not in secrets
    listed = outcome(lambda: store.list_waits_for_user(ctx, user))
    assert not secrets & set(listed if isinstance(listed, list) else [])
    only = outcome(lambda: store.find_by_user(ctx, user))
    assert not (isinstance(only, tuple) and (only[0] in secrets or only[1] == data))
    why = outcome(lambda: store.explain(ctx, user, scope))
    if not isinstance(why, SessionError):
        assert why.session_key not in secrets
        assert not any(secret in line for secret in secrets for line in why.trail)
    exported = io.StringIO()
    outcome(lambda: store.export_events(exported, tenant=ctx.tenant_id))
    assert not any(secret in exported.getvalue() for secret in secrets)


def test_hostile_lookups_never_return_another_tenants_sessions_or_waits(
    backend: str, databases: Databases
) -> None:
    @examples(backend, scale=0.6)
    @given(steps=STEPS)
    def check(steps: list[Step]) -> None:
        with fresh_store(databases) as store:
            data, plain, versions_before = seed_sentinel(store)
            for step in steps:
                other_tenant_step(step, store, plain, data)
            assert store.get_session(SENTINEL_KEY) == data
            assert store.get_session(plain) == data
            assert store.find_wait_by_scope(SENTINEL_CTX, "alice", SENTINEL_SCOPE) == SENTINEL_KEY
            assert store.list_waits_for_user(SENTINEL_CTX, "alice") == [SENTINEL_KEY]
            assert len(store.history(SENTINEL_KEY)) == versions_before

    check()


def test_explain_never_names_another_tenants_session(store: EventSourcedSessionStore) -> None:
    seed_sentinel(store)
    other = make_ctx(env="dev", tenant="tenant-a", team="support", user="alice")
    explanation = store.explain(other, "alice", SENTINEL_SCOPE)
    assert explanation.session_key is None
    assert SENTINEL_KEY not in explanation.reason
