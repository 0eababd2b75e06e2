"""Helpers shared by the hostile-input tests (unit, contract and integration): the
errors an operation may answer, a bound on every call, a fresh store per example, and
the URLs fuzzed for `open_store` and the command-line tool.

Each example of a store test opens a fresh store (a new SQLite file or PostgreSQL schema),
so examples are independent and hypothesis can shrink a failure to its cause.
"""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote, unquote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from greentic_session import ErrorCode, EventSourcedSessionStore, SessionError, open_store
from tests.conftest import Databases
from tests.strategies import hostile_text, storable, storable_text
from tests.support import FakeClock, make_ctx, make_scope

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


# -- every store operation -----------------------------------------------------------------

FIXED_SCOPES = (make_scope("chat-1"), make_scope("chat-1", "thread-1"))
USERS = ("alice", "bob")


# -- the context_json limit ----------------------------------------------------------------

CTX = make_ctx(user="alice")


# -- open_store: URLs and keys -------------------------------------------------------------


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


def store_url_is_safe(sandbox: Path, url: str) -> bool:
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite" and rest.startswith("/") and rest != "/":
        return inside(sandbox, unquote(rest[1:]))
    return True
