"""Hostile input: every public operation, `open_store` and the command-line tool fed
arbitrary text (control characters, NUL, lone surrogates, megabytes, SQL fragments, path
tricks) and values of the wrong type. Only documented errors come out; the store stays
consistent; no tenant ever sees another tenant's sessions; accepted values come back
exactly; and `context_json` is bounded (default 16 MiB, configurable).

Each example of a store test opens a fresh store (a new SQLite file or PostgreSQL schema),
so examples are independent and hypothesis can shrink a failure to its cause.
"""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote, unquote

import psycopg
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from psycopg import sql
from pydantic import BaseModel, ValidationError

from greentic_session import (
    EnvId,
    ErrorCode,
    FlowId,
    Impersonation,
    InvocationDeadline,
    PackId,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionError,
    SessionKey,
    TeamId,
    TenantCtx,
    TenantId,
    UserId,
    open_store,
)
from greentic_session.adapters.bootstrap.urls import MAX_CONTEXT_VARIABLE, URL_VARIABLE
from greentic_session.adapters.cli.main import main as cli_main
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.domain.rules import DEFAULT_MAX_CONTEXT_BYTES
from tests.conftest import Databases, with_schema
from tests.strategies import (
    WRONG_TYPES,
    any_session_data,
    contexts,
    data_fields,
    encryption_keys,
    hostile_text,
    identifier,
    instants,
    optional,
    scopes,
    session_keys,
    storable,
    storable_text,
    ttls,
    versions,
)
from tests.support import (
    FakeClock,
    make_ctx,
    make_data,
    make_scope,
    raises_code,
    run_console_script,
)

DOCUMENTED = frozenset({ErrorCode.INVALID_INPUT, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT})
"""What a store operation may answer bad input with (SEMANTICS.md, README)."""
HANG_SECONDS = 60
"""No example comes near this; one that reaches it is stuck."""

EXAMPLES = {"memory": 150, "sqlite": 80, "postgres": 50}


def examples(backend: str, scale: float = 1.0) -> settings:
    return settings(
        max_examples=max(5, int(EXAMPLES[backend] * scale)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


class Hung(BaseException):
    """Not an `Exception`: nothing under test can catch it and carry on."""


@contextmanager
def within(seconds: int = HANG_SECONDS) -> Iterator[None]:
    def stuck(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(call: Callable[[], Any]) -> Any:
    """What the call returned, or the documented `SessionError` it raised. Any other
    exception (or an undocumented code) fails the test."""
    try:
        with within(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # find_by_user
            return call()
    except SessionError as error:
        assert error.code in DOCUMENTED, f"{error.code.value}: {error.message}"
        return error


@contextmanager
def fresh_store(databases: Databases, **options: Any) -> Iterator[EventSourcedSessionStore]:
    with open_store(databases.new_url(), clock=FakeClock(), **options) as store:
        yield store


def consistent(store: EventSourcedSessionStore) -> None:
    report = store.verify()
    assert report.ok, report.problems
    assert store.current_read_models() == store.replay_read_models()


def event_count(store: EventSourcedSessionStore) -> int:
    return sum(1 for _ in store.events())


# -- models ------------------------------------------------------------------------------

ANY_VALUE = st.one_of(hostile_text(), WRONG_TYPES, WRONG_TYPES)
VALID_FIELDS: dict[type[Any], dict[str, Any]] = {
    TenantCtx: {"env": "dev", "tenant": "t", "tenant_id": "t"},
    SessionData: {
        "tenant_ctx": make_ctx(user="alice"),
        "flow_id": "flow",
        "cursor": {"node_pointer": "n"},
        "context_json": "{}",
    },
    SessionCursor: {"node_pointer": "n"},
    ReplyScope: {"conversation": "chat"},
    Impersonation: {"actor_id": "admin"},
    InvocationDeadline: {"unix_millis": 0},
}
IDENTIFIERS = [EnvId, TenantId, TeamId, UserId, FlowId, PackId, SessionKey]


def models_and_fields() -> st.SearchStrategy[tuple[type[Any], dict[str, Any]]]:
    """A model type and hostile values for some of its fields (the rest valid)."""
    return st.sampled_from(list(VALID_FIELDS)).flatmap(
        lambda kind: st.tuples(
            st.just(kind),
            st.dictionaries(st.sampled_from(list(kind.model_fields)), ANY_VALUE, max_size=3),
        )
    )


def plain(value: Any) -> Any:
    """What `json.dumps` cannot write itself: models as their JSON form, the rest as repr."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else repr(value)


def build_or_refuse(build: Callable[[], Any]) -> Any:
    """The model, or None when it was refused with `SessionError(invalid_input)` or a
    pydantic `ValidationError` (a `ValueError`), as test_types.py expects."""
    try:
        return build()
    except SessionError as error:
        assert error.code is ErrorCode.INVALID_INPUT, error
    except ValidationError:
        pass
    return None


@settings(max_examples=400, deadline=None)
@given(model=models_and_fields(), how=st.sampled_from(["init", "python", "json"]))
def test_models_built_from_hostile_values_raise_only_session_or_validation_errors(
    model: tuple[type[Any], dict[str, Any]], how: str
) -> None:
    kind, hostile = model
    values = {**VALID_FIELDS[kind], **hostile}
    if how == "init":
        build_or_refuse(lambda: kind(**values))
    elif how == "python":
        build_or_refuse(lambda: kind.model_validate(values))
    else:
        document = json.dumps(values, default=plain)  # a lone surrogate becomes a \\ud800 escape
        build_or_refuse(lambda: kind.model_validate_json(document))


@settings(max_examples=300, deadline=None)
@given(value=ANY_VALUE, kind=st.sampled_from(IDENTIFIERS))
def test_identifiers_built_from_hostile_values_raise_only_invalid_input(
    value: Any, kind: type[str]
) -> None:
    try:
        built = kind(value)
    except SessionError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        return
    assert built == value and type(built) is kind


@settings(max_examples=200, deadline=None)
@given(first=ANY_VALUE, second=ANY_VALUE)
def test_context_builders_fed_hostile_values_raise_only_invalid_input(
    first: Any, second: Any
) -> None:
    base = make_ctx()
    builds: list[Callable[[], TenantCtx]] = [
        lambda: TenantCtx.new(first, second),
        lambda: base.with_team(first),
        lambda: base.with_user(second),
    ]
    for build in builds:
        try:
            build()
        except SessionError as error:
            assert error.code is ErrorCode.INVALID_INPUT


@settings(max_examples=300, deadline=None)
@given(model=models_and_fields())
def test_models_accepted_from_hostile_values_round_trip_through_json(
    model: tuple[type[Any], dict[str, Any]],
) -> None:
    kind, hostile = model
    built = build_or_refuse(lambda: kind(**{**VALID_FIELDS[kind], **hostile}))
    if built is not None:
        assert kind.model_validate_json(built.model_dump_json()) == built


@settings(max_examples=300, deadline=None)
@given(model=models_and_fields())
def test_model_copy_with_hostile_updates_is_validated_like_a_new_model(
    model: tuple[type[Any], dict[str, Any]],
) -> None:
    kind, update = model
    base = kind(**VALID_FIELDS[kind])
    copied = build_or_refuse(lambda: base.model_copy(update=update))
    fresh = build_or_refuse(lambda: kind(**{**VALID_FIELDS[kind], **update}))
    assert copied == fresh


def test_model_copy_cannot_smuggle_a_bad_identifier_into_the_store() -> None:
    data = make_data(make_ctx(user="alice"))
    with raises_code(ErrorCode.INVALID_INPUT):
        data.model_copy(update={"flow_id": "flow one"})
    with raises_code(ErrorCode.INVALID_INPUT):
        data.model_copy(update={"context_json": "\ud800"})
    with raises_code(ErrorCode.INVALID_INPUT):
        make_ctx().model_copy(update={"tenant_id": "a/b"})
    with pytest.raises(ValidationError):
        data.model_copy(update={"context_json": None})


# -- every store operation ------------------------------------------------------------------

FIXED_KEYS = ["k1", "k2"]
FIXED_SCOPES = (make_scope("chat-1"), make_scope("chat-1", "thread-1"))
USERS = ("alice", "bob")


Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Created:
    """Stands for the key of a session this example created (a fixed key before any)."""

    index: int


@dataclass(frozen=True)
class OwnData:
    """Stands for data of the call's own context, with these fields."""

    fields: dict[str, Any]


@dataclass(frozen=True)
class OwnUser:
    """Stands for the user of the call's own context."""


@dataclass(frozen=True)
class Exported:
    """Stands for this store's export, with `inserted` put in place of `length` characters
    from `cut` (a fraction of its length) when given."""

    cut: float
    length: int
    inserted: str | None


KEY_ARG = st.one_of(
    st.sampled_from(FIXED_KEYS), st.builds(Created, st.integers(0, 5)), session_keys()
)
CTX_ARG = st.one_of(contexts(), contexts(user=True), contexts(user=True))
OWN_DATA = data_fields().map(OwnData)
DATA_ARG = st.one_of(OWN_DATA, OWN_DATA, OWN_DATA, any_session_data())
USER_ARG = st.one_of(st.just(OwnUser()), st.just(OwnUser()), identifier(*USERS))
SCOPE_ARG = scopes(*FIXED_SCOPES)
AT_ARG = optional(instants())  # instants() holds naive ones and wrong types too
IMPORTS = st.one_of(
    st.lists(hostile_text(), max_size=3).map("\n".join),
    st.builds(Exported, st.floats(0, 1), st.integers(0, 40), optional(hostile_text(huge=False))),
)
VALID: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "create_session": {"ctx": CTX_ARG, "data": DATA_ARG},
    "get_session": {"key": KEY_ARG},
    "update_session": {
        "key": KEY_ARG,
        "data": DATA_ARG,
        "expected_version": st.one_of(st.none(), st.integers(-2, 6)),
    },
    "remove_session": {"key": KEY_ARG},
    "register_wait": {
        "ctx": CTX_ARG,
        "user_id": USER_ARG,
        "scope": SCOPE_ARG,
        "session_key": KEY_ARG,
        "data": DATA_ARG,
        "ttl": ttls(),  # timedeltas of every size, and wrong types
        "if_absent": st.booleans(),
    },
    "find_wait_by_scope": {"ctx": CTX_ARG, "user_id": USER_ARG, "scope": SCOPE_ARG},
    "list_waits_for_user": {"ctx": CTX_ARG, "user_id": USER_ARG},
    "clear_wait": {"ctx": CTX_ARG, "user_id": USER_ARG, "scope": SCOPE_ARG},
    "find_by_user": {"ctx": CTX_ARG, "user": USER_ARG},
    "history": {"key": KEY_ARG},
    "get_session_at": {"key": KEY_ARG, "version": optional(versions()), "at": AT_ARG},
    "diff": {"key": KEY_ARG, "v1": versions(), "v2": versions()},
    "explain": {"ctx": CTX_ARG, "user_id": USER_ARG, "scope": SCOPE_ARG, "at": AT_ARG},
    "verify": {},
    "rebuild_projections": {},
    "sweep_expired": {"now": AT_ARG},
    "export_events": {"tenant": optional(identifier("tenant-a", "tenant-b"))},
    "import_events": {"fp": IMPORTS},
}
"""Every public operation and plausible (often edgy) arguments for it."""
HOSTILE = st.one_of(hostile_text(), WRONG_TYPES, WRONG_TYPES)


def with_one_hostile(name: str) -> st.SearchStrategy[Call]:
    """A call of `name`, with one of its arguments (or none) replaced by a hostile value."""
    valid = VALID[name]
    targets = [None, *sorted(valid)]

    def build(values: dict[str, Any], target: str | None, hostile: Any) -> Call:
        return name, values if target is None else {**values, target: hostile}

    return st.builds(build, st.fixed_dictionaries(valid), st.sampled_from(targets), HOSTILE)


ANY_CALL = st.one_of(*(with_one_hostile(name) for name in VALID))


def concrete(
    name: str, args: dict[str, Any], store: EventSourcedSessionStore, created: list[str]
) -> dict[str, Any]:
    """The arguments with the stand-ins replaced by what they stand for in this store."""
    args = dict(args)
    ctx = args.get("ctx")
    own = ctx if isinstance(ctx, TenantCtx) else make_ctx(user="alice")
    for field, value in args.items():
        if isinstance(value, Created):
            keys = created or FIXED_KEYS
            args[field] = keys[value.index % len(keys)]
        elif isinstance(value, OwnData):
            if name == "update_session":  # the stored session's context, if there is one
                stored = outcome(lambda: store.get_session(args["key"]))
                own = stored.tenant_ctx if isinstance(stored, SessionData) else own
            args[field] = SessionData(tenant_ctx=own, **value.fields)
        elif isinstance(value, OwnUser):
            args[field] = own.normalized_user
        elif isinstance(value, Exported):
            exported = io.StringIO()
            store.export_events(exported)
            text = exported.getvalue()
            if value.inserted is not None:
                cut = int(value.cut * len(text))
                text = text[:cut] + value.inserted + text[cut + value.length :]
            args[field] = io.StringIO(text)
    if name == "export_events":
        args["fp"] = io.StringIO()
    return args


def run_calls(
    store: EventSourcedSessionStore, calls: list[Call], after_each: Callable[[], None]
) -> None:
    created: list[str] = []
    for name, args in calls:
        method = getattr(store, name)
        arguments = concrete(name, args, store, created)
        result = outcome(lambda: method(**arguments))  # noqa: B023 (called at once)
        if name == "create_session" and isinstance(result, str):
            created.append(result)
        after_each()


CALL_LISTS = st.lists(ANY_CALL, min_size=2, max_size=8)


def test_every_operation_fed_hostile_arguments_returns_or_raises_a_documented_error(
    backend: str, databases: Databases
) -> None:
    @examples(backend)
    @given(calls=CALL_LISTS)
    def check(calls: list[Call]) -> None:
        with fresh_store(databases) as store:
            run_calls(store, calls, lambda: None)

    check()


def test_hostile_operations_leave_the_log_and_the_read_models_consistent(
    backend: str, databases: Databases
) -> None:
    @examples(backend, scale=0.6)
    @given(calls=CALL_LISTS)
    def check(calls: list[Call]) -> None:
        with fresh_store(databases) as store:
            run_calls(store, calls, lambda: consistent(store))

    check()


# -- accepted values come back exactly ------------------------------------------------------


def test_hostile_values_that_are_accepted_round_trip_exactly(
    backend: str, databases: Databases
) -> None:
    @examples(backend, scale=0.5)
    @given(
        ctx=contexts(users=USERS, user=True),
        fields=st.lists(data_fields(), min_size=3, max_size=3),
        key=session_keys(),
        scope=scopes(huge=True),
    )
    def check(ctx: TenantCtx, fields: list[dict[str, Any]], key: str, scope: ReplyScope) -> None:
        created, parked, updated = (SessionData(tenant_ctx=ctx, **f) for f in fields)
        user = ctx.normalized_user
        assert user is not None
        with fresh_store(databases) as store:
            first = store.create_session(ctx, created)
            assert store.get_session(first) == created
            store.register_wait(ctx, user, scope, key, parked)
            assert store.get_session(key) == parked
            assert store.find_wait_by_scope(ctx, user, scope) == key
            assert store.list_waits_for_user(ctx, user) == [key]
            store.update_session(key, updated)
            assert store.get_session(key) == updated
            assert store.get_session_at(key, version=1) == parked
            assert [event.version for event in store.history(key)] == [1, 2, 3]
            exported = io.StringIO()
            store.export_events(exported)
        with open_store("memory://", clock=FakeClock()) as copy:
            copy.import_events(io.StringIO(exported.getvalue()))
            assert copy.get_session(first) == created
            assert copy.get_session(key) == updated
            assert copy.find_wait_by_scope(ctx, user, scope) == key

    check()


# -- no cross-tenant results ------------------------------------------------------------------

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


# -- wrong types the store checks -----------------------------------------------------------------


def test_export_events_to_something_that_is_not_a_file_is_invalid_input(
    store: EventSourcedSessionStore,
) -> None:
    store.create_session(make_ctx(), make_data(make_ctx()))
    with raises_code(ErrorCode.INVALID_INPUT):
        store.export_events(None)  # type: ignore[arg-type]


def test_import_events_from_something_that_is_not_a_file_is_invalid_input(
    store: EventSourcedSessionStore,
) -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        store.import_events(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [[1], True, 1.0], ids=["list", "bool", "float"])
def test_diff_with_versions_that_are_not_ints_is_invalid_input(
    store: EventSourcedSessionStore, version: Any
) -> None:
    ctx = make_ctx()
    key = store.create_session(ctx, make_data(ctx))
    with raises_code(ErrorCode.INVALID_INPUT):
        store.diff(key, version, 1)


def test_an_empty_import_into_an_empty_store_loads_nothing(
    store: EventSourcedSessionStore,
) -> None:
    assert store.import_events(io.StringIO("")) == 0
    consistent(store)


# -- the context_json limit -------------------------------------------------------------------

LIMIT = 1000
CTX = make_ctx(user="alice")


def sized(size: int, unit: str = "x") -> str:
    """Text of exactly `size` UTF-8 bytes: `unit`s, topped up with ASCII."""
    width = len(unit.encode("utf-8"))
    return unit * (size // width) + "x" * (size % width)


@pytest.fixture
def limited(store_url: str) -> Iterator[EventSourcedSessionStore]:
    with open_store(store_url, clock=FakeClock(), max_context_bytes=LIMIT) as opened:
        yield opened


@pytest.mark.parametrize("unit", ["x", "é", "€", "😀", "\x00"])
def test_context_json_of_exactly_the_limit_is_accepted(
    limited: EventSourcedSessionStore, unit: str
) -> None:
    data = make_data(CTX, context_json=sized(LIMIT, unit))
    key = limited.create_session(CTX, data)
    limited.update_session(key, data)
    limited.register_wait(CTX, "alice", make_scope("chat"), key, data)
    assert limited.get_session(key) == data


@pytest.mark.parametrize("unit", ["x", "é", "€", "😀"])
def test_context_json_one_byte_over_the_limit_is_invalid_input_and_writes_nothing(
    limited: EventSourcedSessionStore, unit: str
) -> None:
    small = make_data(CTX)
    key = limited.create_session(CTX, small)
    events, history = event_count(limited), limited.history(key)
    over = make_data(CTX, context_json=sized(LIMIT + 1, unit))
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.create_session(CTX, over)
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.update_session(key, over)
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.register_wait(CTX, "alice", make_scope("chat"), key, over)
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.register_wait(CTX, "alice", make_scope("chat"), "new-key", over)
    assert event_count(limited) == events
    assert limited.history(key) == history
    assert limited.get_session(key) == small
    assert limited.history("new-key") == []
    assert limited.find_wait_by_scope(CTX, "alice", make_scope("chat")) is None


def test_context_json_limit_counts_utf8_bytes_not_characters(
    limited: EventSourcedSessionStore,
) -> None:
    fits = "😀" * (LIMIT // 4)  # 250 characters, 1000 bytes
    assert limited.get_session(limited.create_session(CTX, make_data(CTX, context_json=fits)))
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.create_session(CTX, make_data(CTX, context_json=fits + "x"))  # 251 characters
    with raises_code(ErrorCode.INVALID_INPUT):
        limited.create_session(CTX, make_data(CTX, context_json="é" * (LIMIT // 2 + 1)))


def test_default_context_json_limit_is_16_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_CONTEXT_VARIABLE, raising=False)
    assert DEFAULT_MAX_CONTEXT_BYTES == 16 * 1024 * 1024
    with open_store("memory://", clock=FakeClock()) as store:
        at_limit = make_data(CTX, context_json=sized(16 * 1024 * 1024, "é"))
        key = store.create_session(CTX, at_limit)
        assert store.get_session(key) == at_limit
        with raises_code(ErrorCode.INVALID_INPUT):
            store.update_session(key, make_data(CTX, context_json=sized(16 * 1024 * 1024 + 1)))
        assert [event.version for event in store.history(key)] == [1]


def test_context_json_limit_comes_from_the_environment_unless_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(MAX_CONTEXT_VARIABLE, "100")
    with open_store("memory://", clock=FakeClock()) as store:
        store.create_session(CTX, make_data(CTX, context_json=sized(100)))
        with raises_code(ErrorCode.INVALID_INPUT):
            store.create_session(CTX, make_data(CTX, context_json=sized(101)))
    with open_store("memory://", clock=FakeClock(), max_context_bytes=200) as store:
        store.create_session(CTX, make_data(CTX, context_json=sized(200)))
        with raises_code(ErrorCode.INVALID_INPUT):
            store.create_session(CTX, make_data(CTX, context_json=sized(201)))


@pytest.mark.parametrize(
    "limit", [0, -1, True, False, 1.5, "1000", b"1000", [1000], None.__class__, -(2**70)]
)
def test_bad_max_context_bytes_is_invalid_input(limit: Any) -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        open_store("memory://", max_context_bytes=limit)


@pytest.mark.parametrize("text", ["abc", "0", "-5", "1.5", " ", "1e6", "16MiB", "0x10"])
def test_bad_max_context_bytes_variable_is_invalid_input(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(MAX_CONTEXT_VARIABLE, text)
    with raises_code(ErrorCode.INVALID_INPUT):
        open_store("memory://")


@settings(max_examples=100, deadline=None)
@given(limit=st.one_of(st.integers(), WRONG_TYPES))
def test_hostile_max_context_bytes_opens_a_store_or_is_invalid_input(limit: Any) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(MAX_CONTEXT_VARIABLE, raising=False)
        try:
            open_store("memory://", max_context_bytes=limit).close()
        except SessionError as error:
            assert error.code is ErrorCode.INVALID_INPUT
            opened = False
        else:
            opened = True
    assert opened == (limit is None or (type(limit) is int and limit > 0))  # None: default


def whole_number(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


@settings(max_examples=100, deadline=None)
@given(text=st.one_of(hostile_text(huge=False), st.integers().map(str)))
def test_hostile_max_context_bytes_variable_opens_a_store_or_is_invalid_input(text: str) -> None:
    assume("\x00" not in text and storable(text))  # what an environment can hold
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MAX_CONTEXT_VARIABLE, text)
        try:
            open_store("memory://").close()
        except SessionError as error:
            assert error.code is ErrorCode.INVALID_INPUT
            opened = False
        else:
            opened = True
    number = whole_number(text)
    assert opened == (text == "" or (number is not None and number > 0))


# -- open_store: URLs and keys --------------------------------------------------------------

def inside(sandbox: Path, path: str) -> bool:
    """Whether `path` (relative to the current folder) stays in the sandbox; a name no file
    can have counts as inside (nothing is opened)."""
    if not path or "\x00" in path or not storable(path):
        return True
    return Path(os.path.realpath(path)).is_relative_to(sandbox)


def sqlite_urls(sandbox: Path) -> st.SearchStrategy[str]:
    segment = st.one_of(
        storable_text(huge=False, max_size=12),
        st.sampled_from(["..", ".", "", "a", "~", ":memory:", "%2e%2e", "%25", "%zz"]),
    )
    path = st.lists(segment, min_size=1, max_size=4).map("/".join)
    return st.one_of(
        path.map(lambda p: f"sqlite:///{p}"),
        path.map(lambda p: f"sqlite:///{sandbox}/{p}"),
        st.sampled_from(
            ["sqlite:", "sqlite://", "sqlite:///", "sqlite:////", "sqlite:///:memory:"]
        ),
    )


def postgres_urls() -> st.SearchStrategy[str]:
    """PostgreSQL URLs at a closed port (nothing is ever created), hostile in every part
    but the host and port."""
    part = storable_text(huge=False, max_size=16).map(lambda text: quote(text, safe=""))
    option = st.one_of(
        st.just(""),
        part.map(lambda text: f"&schema={text}"),
        st.sampled_from(["&schema=ok_name", "&schema=1bad", "&schema=a%3Bdrop", "&pool_size=2"]),
        st.tuples(part, part).map(lambda kv: f"&{kv[0]}={kv[1]}"),
    )
    return st.builds(
        lambda scheme, user, password, db, extra: (
            f"{scheme}://{user}:{password}@127.0.0.1:1/{db}?connect_timeout=1{extra}"
        ),
        st.sampled_from(["postgresql", "postgres"]),
        part,
        part,
        part,
        option,
    )


@cache
def store_urls(sandbox: Path) -> st.SearchStrategy[str]:
    no_scheme = hostile_text(huge=False).filter(lambda text: "://" not in text)
    memory = hostile_text(huge=False).map(lambda text: "memory://" + text)
    return st.one_of(sqlite_urls(sandbox), postgres_urls(), memory, no_scheme)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder for the test: three levels down in a fresh folder, so path tricks
    (`..`) stay inside it; no store URL comes from the environment."""
    root = tmp_path / "sandbox"
    here = root / "a" / "b" / "c"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    monkeypatch.delenv("GREENTIC_SESSION_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv(MAX_CONTEXT_VARIABLE, raising=False)
    return root.resolve()


def store_url_is_safe(sandbox: Path, url: str) -> bool:
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite" and rest.startswith("/") and rest != "/":
        return inside(sandbox, unquote(rest[1:]))
    return True


def test_open_store_with_hostile_urls_opens_or_raises_invalid_input_or_unavailable(
    sandbox: Path,
) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(url=store_urls(sandbox))
    def check(url: str) -> None:
        assume(store_url_is_safe(sandbox, url))
        try:
            with within():
                open_store(url).close()
        except SessionError as error:
            assert error.code in (ErrorCode.INVALID_INPUT, ErrorCode.UNAVAILABLE), error

    check()


@settings(max_examples=100, deadline=None)
@given(url=WRONG_TYPES)
def test_open_store_with_a_url_that_is_not_a_string_is_invalid_input(url: Any) -> None:
    assume(url is not None and bool(url))  # falsy: test_a_falsy_url_that_is_not_none_...
    with raises_code(ErrorCode.INVALID_INPUT):
        open_store(url)


@pytest.mark.parametrize("url", [False, 0, b"", [], ""], ids=repr)
def test_a_falsy_url_that_is_not_none_is_invalid_input(url: Any, sandbox: Path) -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        open_store(url).close()
    assert list(Path.cwd().iterdir()) == []


@pytest.fixture
def pg_schema_url(pg_dsn: str) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield with_schema(pg_dsn, schema)
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


CLOSED = "postgresql://postgres@127.0.0.1:1"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///a%00b",
        "sqlite:///a\x00b",
        "sqlite:///\ud800.db",
        "not-a-database",
        "postgresql://postgres@127.0.0.1:abc/db",
        "postgresql://postgres@127.0.0.1:99999/db",
        "postgresql://[::1/db",
        f"{CLOSED}/\ud800",
        f"{CLOSED}/db?connect_timeout=abc",
        f"{CLOSED}/db?connect_timeout=nan",
        f"{CLOSED}/db?connect_timeout=1e400",
        "pool_size=x",
        "pool_size=-1",
        "max_overflow=x",
        "lock_timeout=x",
    ],
)
def test_open_store_with_malformed_urls_is_invalid_input(
    url: str, sandbox: Path, request: pytest.FixtureRequest
) -> None:
    if url == "not-a-database":
        (sandbox / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
        url = f"sqlite:///{sandbox}/passwd"
    elif "://" not in url:  # an option the server must be reached to read
        url = f"{request.getfixturevalue('pg_schema_url')}&{url}"
    with raises_code(ErrorCode.INVALID_INPUT):
        open_store(url).close()


@settings(max_examples=150, deadline=None)
@given(key=encryption_keys())
def test_open_store_with_a_hostile_encryption_key_opens_or_is_invalid_input(key: Any) -> None:
    try:
        open_store("memory://", encryption_key=key).close()
    except SessionError as error:
        assert error.code is ErrorCode.INVALID_INPUT, error


def test_an_encrypted_store_opened_with_a_hostile_key_is_refused_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GREENTIC_SESSION_ENCRYPTION_KEY", raising=False)
    from greentic_session.adapters.storage.encryption import new_key

    url, right = f"sqlite:///{tmp_path / 'sealed.db'}", new_key()
    with open_store(url, encryption_key=right) as store:
        key = store.create_session(CTX, make_data(CTX, context_json="secret"))

    @settings(max_examples=60, deadline=None)
    @given(wrong=st.one_of(st.none(), encryption_keys()))
    def check(wrong: Any) -> None:
        assume(wrong != right)
        with pytest.raises(SessionError) as refused:
            open_store(url, encryption_key=wrong).close()
        codes = (ErrorCode.INVALID_INPUT, ErrorCode.UNAUTHENTICATED)
        assert refused.value.code in codes, refused.value

    check()
    with open_store(url, encryption_key=right) as store:
        assert store.get_session(key) == make_data(CTX, context_json="secret")


# -- the command-line tool ------------------------------------------------------------------

START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)  # in the past: the tool reads the real clock
CLI_SCOPE = make_scope("chat-42", "refund")
CALLER = ["--env", "dev", "--tenant", "tenant-a", "--user", "alice"]


@pytest.fixture
def seeded(tmp_path: Path) -> str:
    """A SQLite store outside the sandbox (no fuzzed path reaches it) with a few sessions."""
    folder = tmp_path / "db"
    folder.mkdir()
    url = f"sqlite:///{folder / 'store.db'}"
    clock = FakeClock(START)
    with open_store(url, clock=clock) as store:
        refund = store.create_session(CTX, make_data(CTX, flow="refund"))
        store.register_wait(CTX, "alice", CLI_SCOPE, refund, make_data(CTX, flow="refund"))
        clock.advance(timedelta(minutes=5))
        store.register_wait(
            CTX, "alice", CLI_SCOPE, "survey-1", make_data(CTX), ttl=timedelta(minutes=30)
        )
    return url


def invoke(*args: str, stdin: str = "") -> Result:
    runner = CliRunner(
        env={
            URL_VARIABLE: None,
            "GREENTIC_SESSION_ENCRYPTION_KEY": None,
            MAX_CONTEXT_VARIABLE: None,
        }
    )
    with within():
        return runner.invoke(cli_main, list(args), input=stdin)


def assert_clean_exit(result: Result) -> None:
    """0, 1 or 2; never a traceback or an unexpected exception; a store error is one line."""
    shown = (result.exit_code, result.stdout[-500:], result.stderr[-500:])
    assert result.exit_code in (0, 1, 2), shown
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exc_info,
        shown,
    )
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert "error: internal" not in result.stderr, shown
    if result.stderr.startswith("error:"):
        assert result.stderr.count("\n") == 1, shown
    if result.exit_code == 0:
        assert not result.stderr.startswith(("error:", "Error:", "Usage:")), shown


CLI_TEXT = hostile_text()
CLI_COMMANDS = [
    "history",
    "show",
    "diff",
    "waits",
    "explain",
    "verify",
    "rebuild",
    "sweep",
    "export",
    "import",
    "demo",
]


CLI_VALID: dict[str, st.SearchStrategy[str]] = {
    "key": st.sampled_from(["survey-1", "missing"]),
    "version": st.integers(1, 3).map(str),
    "v1": st.integers(1, 3).map(str),
    "v2": st.integers(1, 3).map(str),
    "--at": st.datetimes(
        min_value=datetime(2024, 12, 31), max_value=datetime(2025, 1, 2), timezones=st.just(UTC)
    ).map(datetime.isoformat),
    "--env": st.just("dev"),
    "--tenant": st.sampled_from(["tenant-a", "tenant-b"]),
    "--user": st.sampled_from(["alice", "bob"]),
    "--team": st.just("support"),
    "--conversation": st.just("chat-42"),
    "--thread": st.just("refund"),
    "--reply-to": st.just("msg-1"),
    "--correlation": st.just("cid-1"),
    "file": st.sampled_from(["-", "out.jsonl", "../../x.jsonl"]),
}
"""Plausible values of each argument and option; one of them at a time is made hostile."""
CLI_HOSTILE: dict[str, st.SearchStrategy[str]] = {
    "--at": st.one_of(
        CLI_TEXT, st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
    ),
    "version": st.one_of(CLI_TEXT, st.integers().map(str)),
    "v1": st.one_of(CLI_TEXT, st.integers().map(str)),
    "v2": st.one_of(CLI_TEXT, st.integers().map(str)),
}
CALLER_FIELDS = ["--env", "--tenant", "--team?", "--user"]
CLI_FIELDS = {
    "history": ["key"],
    "show": ["key", "version?", "--at?"],
    "diff": ["key", "v1", "v2"],
    "waits": CALLER_FIELDS,
    "explain": [
        *CALLER_FIELDS,
        "--conversation",
        "--thread?",
        "--reply-to?",
        "--correlation?",
        "--at?",
    ],
    "export": ["--tenant?", "file"],
    "import": ["file"],
    "verify": [],
    "rebuild": [],
    "sweep": [],
    "demo": [],
}
"""Each command's arguments and options in order; `?` marks the optional ones."""


@st.composite
def cli_arguments(draw: st.DrawFn, seeded: str, sandbox: Path) -> tuple[list[str], str]:
    """One command of the tool: one argument, option or the store URL hostile (or none),
    the others plausible, against the seeded store."""
    command = draw(st.sampled_from(sorted(CLI_FIELDS)))
    fields = [field.rstrip("?") for field in CLI_FIELDS[command]]
    target = draw(st.sampled_from([None, "--url", *fields]))
    args = [command]
    for field in CLI_FIELDS[command]:
        name = field.rstrip("?")
        if field.endswith("?") and name != target and draw(st.booleans()):
            continue
        hostile = CLI_HOSTILE.get(name, CLI_TEXT)
        value = draw(hostile if name == target else CLI_VALID[name])
        if name == "version":
            args += ["--version", value]
        elif name.startswith("--"):
            args += [name, value]
        else:
            args.append(value)
    if command == "show" and "--version" in args and "--at" in args and target is None:
        args = args[: args.index("--at")]  # both at once is a usage error: keep them apart
    if target == "--url":
        url = draw(store_urls(sandbox))
        url = "memory://" if command == "demo" and url.startswith("sqlite:") else url
    else:
        url = "memory://" if command in ("demo", "import") else seeded
    args += ["--url", url]
    if command != "demo" and draw(st.booleans()):
        args.append("--json")
    return args, url


def cli_is_safe(args: list[str], url: str, seeded: str, sandbox: Path) -> bool:
    """Files the tool may write or read stay in the sandbox (or are the seeded store)."""
    if url != seeded and not store_url_is_safe(sandbox, url):
        return False
    if args[0] in ("export", "import"):
        operands = [a for a in args[1:] if not a.startswith("-") or a == "-"]
        return all(a == "-" or inside(sandbox, a) for a in operands)
    return True


def test_cli_fed_hostile_arguments_exits_0_1_or_2_without_a_traceback(
    seeded: str, sandbox: Path
) -> None:
    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(command=cli_arguments(seeded, sandbox), stdin=st.sampled_from(["", "garbage\n"]))
    def check(command: tuple[list[str], str], stdin: str) -> None:
        args, url = command
        assume(cli_is_safe(args, url, seeded, sandbox))
        assert_clean_exit(invoke(*args, stdin=stdin))

    check()
    with open_store(seeded) as store:
        consistent(store)


@pytest.mark.parametrize("name", ["", "a\x00b", "\ud800", "out\udfff.jsonl"])
def test_cli_refuses_a_file_name_no_file_can_have_as_a_usage_error(
    seeded: str, sandbox: Path, name: str
) -> None:
    for command in ("export", "import"):
        result = invoke(command, name, "--url", seeded)
        assert_clean_exit(result)
        assert result.exit_code == 2, result.stderr
    assert not [p for p in sandbox.rglob("*") if p.is_file()]  # no half-written export


@pytest.mark.parametrize(
    "at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-01:00"]
)
def test_cli_time_outside_the_utc_range_is_a_usage_error(seeded: str, at: str) -> None:
    for args in (
        ["show", "survey-1", "--at", at],
        ["explain", *CALLER, "--conversation", "chat-42", "--at", at],
    ):
        result = invoke(*args, "--url", seeded)
        assert_clean_exit(result)
        assert result.exit_code == 2 and "outside the years 1 to 9999" in result.stderr


def test_cli_export_to_a_device_writes_through_it_instead_of_replacing_it(
    seeded: str, tmp_path: Path
) -> None:
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
    except PermissionError:
        pytest.skip("making a device file needs root")
    result = invoke("export", str(device), "--url", seeded)
    assert_clean_exit(result)
    assert result.exit_code == 0
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".__atomic")] == []


def test_cli_import_of_a_file_that_cannot_be_read_is_a_file_error() -> None:
    result = invoke("import", "/proc/self/mem", "--url", "memory://")  # EIO on read
    assert_clean_exit(result)
    assert result.exit_code == 1 and "/proc/self/mem" in result.stderr


def test_console_script_with_undecodable_arguments_prints_one_error_line(
    seeded: str, tmp_path: Path
) -> None:
    """Bytes that are not UTF-8 reach the tool as lone surrogates (surrogateescape)."""
    done = run_console_script("history", "key-\udcff", "--url", seeded)
    assert done.returncode == 2
    assert done.stderr.startswith("error: invalid_input:") and done.stderr.count("\n") == 1
    exported = tmp_path / "export-\udcff.jsonl"  # a legal file name: byte 0xff
    done = run_console_script("export", str(exported), "--url", seeded)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and exported.exists()


def test_console_script_with_sql_and_path_tricks_finds_nothing(seeded: str) -> None:
    for trick in ("'; DROP TABLE gs_session_state; --", "../../etc/passwd"):
        done = run_console_script("show", trick, "--url", seeded)
        assert (done.returncode, done.stderr) == (1, f"error: not_found: no session {trick}\n")
    with open_store(seeded) as store:
        consistent(store)
