"""Every public operation fed arbitrary text (control characters, NUL, lone surrogates,
megabytes, SQL fragments, path tricks) and values of the wrong type: only documented
errors come out, the store stays consistent, and accepted values come back exactly.

Each example opens a fresh store (a new SQLite file or PostgreSQL schema), so examples
are independent and hypothesis can shrink a failure to its cause.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from greentic_session import (
    EventSourcedSessionStore,
    ReplyScope,
    SessionData,
    TenantCtx,
    open_store,
)
from tests.conftest import Databases
from tests.hostile import FIXED_SCOPES, USERS, consistent, examples, fresh_store, outcome
from tests.strategies import (
    WRONG_TYPES,
    any_session_data,
    contexts,
    data_fields,
    hostile_text,
    identifier,
    instants,
    optional,
    scopes,
    session_keys,
    ttls,
    versions,
)
from tests.support import FakeClock, make_ctx

# -- every store operation -----------------------------------------------------------------

FIXED_KEYS = ["k1", "k2"]


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
    "read_session": {"key": KEY_ARG},
    "update_session": {
        "key": KEY_ARG,
        "data": DATA_ARG,
        "expected_version": st.one_of(st.none(), st.integers(-2, 6)),
    },
    "remove_session": {"key": KEY_ARG, "ctx": optional(CTX_ARG)},
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
    "sweep_expired": {"now": AT_ARG, "ctx": optional(CTX_ARG)},
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


# -- accepted values come back exactly -----------------------------------------------------


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
            read = store.read_session(key)
            assert read is not None and read.wait is not None
            assert (read.data, read.wait.scope, read.wait.user_id) == (updated, scope, user)
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
