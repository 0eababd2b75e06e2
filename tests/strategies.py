"""Hypothesis strategies for hostile input: arbitrary text (control characters, NUL, lone
surrogates, megabyte sizes, SQL fragments, path tricks) and values of the wrong type.

Used by the hostile-input tests (`test_hostile_*.py` in unit/, contract/ and integration/);
nothing here touches a store or the file system.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

from hypothesis import strategies as st

from greentic_session import ReplyScope, SessionCursor, SessionData, TenantCtx

SQL_FRAGMENTS = [
    "'; DROP TABLE gs_session_state; --",
    "'; DROP TABLE greentic_session_events; --",
    "' OR '1'='1",
    '" OR ""="',
    "%s",
    "%(key)s",
    "%%",
    "?",
    ":1",
    "$1",
    "\\",
    "\\x00",
    "/*",
    "*/ --",
    "`",
    "'; SELECT pg_sleep(30); --",
    "'||pg_sleep(30)||'",
    "NULL",
    "null",
    '{"a":',
    "\x1b[31m",
    "{0}",
    "${HOME}",
]
PATH_TRICKS = [
    "../../etc/passwd",
    "..",
    ".",
    "/",
    "//",
    "~",
    "sqlite:////etc/passwd",
    "file:///etc/passwd",
    "/dev/zero",
    "/proc/self/mem",
    "C:\\Windows\\System32",
    "\\\\?\\C:\\",
    "NUL",
    "con",
    "a/../../b",
    "%2e%2e%2f%2e%2e%2f",
    "..%00/x",
    "-",
    "--help",
]
CONTROL = ["\x00", "\r", "\n", "\t", "\x7f", "\x85", "\u2028", "\ufeff", "\u200b"]
CONTROL += ["\ud800", "\udfff"]  # lone surrogates
FRAGMENTS = [*SQL_FRAGMENTS, *PATH_TRICKS, *CONTROL, "\r\n"]


def _huge(unit: str, size: int) -> str:
    return unit * (size // len(unit.encode("utf-8", "surrogatepass")))


HUGE = [
    _huge("a", 1_000_000),
    _huge("é", 1_500_000),
    _huge("😀", 2_000_000),
    _huge("\x00'%s?", 1_000_000),
    "k" * 1_000_000 + "\ud800",
]
"""Megabyte strings, built once (ASCII, 2- and 4-byte characters, NUL and SQL, a surrogate)."""

ANY_CHARACTER = st.characters(categories=["L", "M", "N", "P", "S", "Z", "C"])
"""Every category, with `C`: control (Cc, NUL included), format, private use, unassigned
and the surrogates (Cs) that `st.characters()` leaves out by default."""
NASTY_CHARACTER = st.one_of(
    st.characters(categories=["Cc", "Cs", "Cf", "Zl", "Zp"]), st.sampled_from(CONTROL)
)


@cache
def hostile_text(*, huge: bool = True, max_size: int = 40) -> st.SearchStrategy[str]:
    """Any text, biased towards what breaks parsers and databases; with `huge`, one draw in
    about twenty is a megabyte or two. (Strategies here are built once: hypothesis checks
    every new one, which costs more than drawing from it.)"""
    small = st.one_of(
        st.text(ANY_CHARACTER, max_size=max_size),
        st.text(NASTY_CHARACTER, min_size=1, max_size=8),
        st.sampled_from(FRAGMENTS),
        st.tuples(st.text(ANY_CHARACTER, max_size=8), st.sampled_from(FRAGMENTS)).map("".join),
    )
    if not huge:
        return small
    return st.one_of(*([small] * 19), st.sampled_from(HUGE))


def storable(text: str) -> bool:
    """Text every backend can hold: no lone surrogates (NUL is fine inside values)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@cache
def storable_text(*, huge: bool = True, max_size: int = 40) -> st.SearchStrategy[str]:
    return hostile_text(huge=huge, max_size=max_size).filter(storable)


class Opaque:
    """An object of a type no API expects."""

    def __repr__(self) -> str:
        return "Opaque()"


WRONG_TYPES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=16),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.tuples(st.text(max_size=3)),
    st.sets(st.integers(), max_size=2),
    st.builds(Opaque),
    st.just(timedelta(seconds=1)),
    st.just(datetime(2030, 1, 1, tzinfo=UTC)),
    st.just(ReplyScope(conversation="not what was asked for")),
    st.just(b"\x00\xff"),
    st.just(bytearray(b"key")),
    st.just(memoryview(b"key")),
)
"""Values of types the API does not take where it expects a string, model, int or file."""

IDENTIFIER = st.from_regex(r"[A-Za-z0-9._-]{1,24}", fullmatch=True)
"""Valid identifier text (EnvId, TenantId, TeamId, UserId, FlowId, PackId)."""


@cache
def identifier(*pool: str) -> st.SearchStrategy[str]:
    """A valid identifier, usually one of `pool` (so lookups meet the writes), sometimes
    a fresh one or a very long one."""
    choices: list[st.SearchStrategy[str]] = [IDENTIFIER, st.just("i" * 100_000)]
    if pool:
        choices = [st.sampled_from(pool)] * 4 + choices
    return st.one_of(*choices)


@cache
def offsets() -> st.SearchStrategy[timezone]:
    return st.builds(
        timezone,
        st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
    )


@cache
def instants() -> st.SearchStrategy[Any]:
    """Aware datetimes anywhere in years 1..9999 and in any UTC offset (their UTC value may
    not be representable), naive ones, and wrong types."""
    return st.one_of(
        st.datetimes(timezones=st.one_of(st.just(UTC), offsets())),
        st.sampled_from(
            [
                datetime.min.replace(tzinfo=timezone(timedelta(hours=23))),
                datetime.max.replace(tzinfo=timezone(timedelta(hours=-23))),
                datetime.max.replace(tzinfo=UTC),
            ]
        ),
        st.datetimes(),
        WRONG_TYPES,
    )


@cache
def ttls() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.timedeltas(),
        st.sampled_from([timedelta.min, timedelta.max, timedelta(0), timedelta(seconds=-1)]),
        WRONG_TYPES,
    )


@cache
def versions() -> st.SearchStrategy[Any]:
    """Stream versions: plausible, zero, negative, huge; also None and text.

    Other wrong types are left out for `diff` until it checks them (see
    test_diff_with_versions_that_are_not_ints_is_invalid_input).
    """
    return st.one_of(
        st.integers(min_value=-3, max_value=6),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.none(),
        st.text(max_size=3),
    )


@cache
def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@cache
def attributes(*, huge: bool) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(storable_text(huge=False), storable_text(huge=huge), max_size=2)


ATTEMPTS = st.integers(min_value=0, max_value=2**32 - 1)


@cache
def contexts(
    envs: tuple[str, ...] = ("dev", "prod"),
    tenants: tuple[str, ...] = ("tenant-a", "tenant-b"),
    teams: tuple[str, ...] = ("support",),
    users: tuple[str, ...] = ("alice", "bob"),
    *,
    huge: bool = True,
    user: bool = False,
) -> st.SearchStrategy[TenantCtx]:
    """A valid caller context: identifiers mostly from the pools (or absent for team and,
    unless `user`, for user), every free-text field hostile but storable."""
    return _contexts(envs, tenants, teams, users, huge=huge, user=user)


@st.composite
def _contexts(
    draw: st.DrawFn,
    envs: tuple[str, ...] = ("dev", "prod"),
    tenants: tuple[str, ...] = ("tenant-a", "tenant-b"),
    teams: tuple[str, ...] = ("support",),
    users: tuple[str, ...] = ("alice", "bob"),
    *,
    huge: bool = True,
    user: bool = False,
) -> TenantCtx:
    ctx = TenantCtx.new(draw(identifier(*envs)), draw(identifier(*tenants)))
    ctx = ctx.with_team(draw(optional(identifier(*teams))))
    ctx = ctx.with_user(draw(identifier(*users) if user else optional(identifier(*users))))
    text = optional(storable_text(huge=huge))
    return ctx.model_copy(
        update={
            "session_id": draw(text),
            "trace_id": draw(text),
            "correlation_id": draw(text),
            "provider_id": draw(text),
            "attributes": draw(attributes(huge=huge)),
            "attempt": draw(ATTEMPTS),
        }
    )


@cache
def data_fields(*, huge: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Every field of `SessionData` but its context, hostile (storable) where it is text."""
    text = storable_text(huge=huge)
    return st.fixed_dictionaries(
        {
            "flow_id": identifier("flow-a", "flow-b"),
            "pack_id": optional(identifier("pack")),
            "cursor": st.builds(
                SessionCursor,
                node_pointer=text,
                wait_reason=optional(text),
                outbox_marker=optional(text),
            ),
            "context_json": text,
        }
    )


def session_data(ctx: TenantCtx, *, huge: bool = True) -> st.SearchStrategy[SessionData]:
    """Data for `ctx`'s session with hostile (storable) text in every free-text field."""
    return data_fields(huge=huge).map(lambda fields: SessionData(tenant_ctx=ctx, **fields))


@cache
def any_session_data(*, huge: bool = True) -> st.SearchStrategy[SessionData]:
    """Data of any context."""
    return st.builds(
        lambda ctx, fields: SessionData(tenant_ctx=ctx, **fields),
        contexts(huge=huge),
        data_fields(huge=huge),
    )


@cache
def scopes(*pool: ReplyScope, huge: bool = True) -> st.SearchStrategy[ReplyScope]:
    text = storable_text(huge=huge)
    fresh = st.builds(
        ReplyScope,
        conversation=text,
        thread=optional(text),
        reply_to=optional(text),
        correlation=optional(text),
    )
    return st.one_of(st.sampled_from(pool), fresh) if pool else fresh


@cache
def session_keys() -> st.SearchStrategy[str]:
    """Keys a store accepts: any non-empty storable text without NUL."""
    return storable_text().filter(lambda key: key != "" and "\x00" not in key)


@cache
def encryption_keys() -> st.SearchStrategy[Any]:
    """Base64 of 0..40 random bytes (16, 24 and 32 are valid), hostile text, wrong types."""
    return st.one_of(
        st.binary(min_size=0, max_size=40).map(lambda raw: base64.b64encode(raw).decode()),
        st.sampled_from([16, 24, 32]).flatmap(
            lambda size: st.binary(min_size=size, max_size=size).map(
                lambda raw: base64.b64encode(raw).decode()
            )
        ),
        hostile_text(huge=False),
        WRONG_TYPES,
    )
