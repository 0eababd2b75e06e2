"""Fixtures that run every contract test on every backend: memory, SQLite and PostgreSQL.

`store` is parametrized over all backends. Tests that need a second instance on the same
database parametrize `backend` with `PERSISTENT_BACKENDS` (memory cannot be shared).
PostgreSQL tests each get their own schema, dropped afterwards; without a server they are
skipped, except under CI (env `CI` set), where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from greentic_session import AuditedSessionStore
from tests.support import FakeClock

PG_DSN = os.environ.get("GREENTIC_SESSION_TEST_PG") or "postgresql://postgres@127.0.0.1:5432/test"

ALL_BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
]
PERSISTENT_BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
]


def open_store(url: str, clock: Callable[[], datetime] | None = None) -> AuditedSessionStore:
    """Imported late, so the unit tests of `domain` run while `adapters` is still missing."""
    from greentic_session import open_store as _open_store

    return _open_store(url, clock=clock)


def with_schema(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = [*parse_qsl(parts.query), ("schema", schema)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The PostgreSQL server, checked once per session with a short connect timeout."""
    try:
        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except psycopg.Error as exc:
        reason = f"PostgreSQL not reachable at {PG_DSN}; set GREENTIC_SESSION_TEST_PG ({exc})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return PG_DSN


class Databases:
    """Hands out URLs of fresh, empty databases of one backend and cleans them up."""

    def __init__(self, backend: str, directory: Path, dsn: str | None) -> None:
        self.backend = backend
        self.directory = directory
        self.dsn = dsn
        self.schemas: list[str] = []
        self.count = 0

    def new_url(self) -> str:
        self.count += 1
        if self.backend == "memory":
            return "memory://"
        if self.backend == "sqlite":
            return f"sqlite:///{self.directory / f'store-{self.count}.db'}"
        assert self.dsn is not None
        schema = f"t_{uuid.uuid4().hex[:16]}"
        self.schemas.append(schema)
        return with_schema(self.dsn, schema)

    def drop_all(self) -> None:
        if not self.schemas:
            return
        assert self.dsn is not None
        with psycopg.connect(self.dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")
            for schema in self.schemas:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def databases(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Databases]:
    dsn = request.getfixturevalue("pg_dsn") if backend == "postgres" else None
    dbs = Databases(backend, tmp_path, dsn)
    yield dbs
    dbs.drop_all()


@pytest.fixture
def store_url(databases: Databases) -> str:
    """The URL of the store under test (a fresh SQLite file or PostgreSQL schema)."""
    return databases.new_url()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_url: str, fake_clock: FakeClock) -> Iterator[AuditedSessionStore]:
    """The store under test; it reads time from `fake_clock`, so TTL tests move it by hand."""
    with open_store(store_url, clock=fake_clock) as opened:
        yield opened


@pytest.fixture
def open_another(
    backend: str, store_url: str, fake_clock: FakeClock
) -> Iterator[Callable[[], AuditedSessionStore]]:
    """Opens more instances on the database of `store`, closed at the end of the test."""
    if backend == "memory":
        pytest.skip("memory:// lives inside one store instance; a second one cannot share it")
    opened: list[AuditedSessionStore] = []

    def factory() -> AuditedSessionStore:
        instance = open_store(store_url, clock=fake_clock)
        opened.append(instance)
        return instance

    yield factory
    for instance in opened:
        instance.close()
