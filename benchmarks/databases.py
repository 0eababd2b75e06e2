"""Fresh, empty databases for each store of a run, removed at the end.

Every store of the run (ours, the floor, LangGraph, plain eventsourcing) gets a URL of
its own: `memory://`, a new SQLite file in a temporary folder, or the PostgreSQL server
with a new random schema (`?schema=`). All of the run's schemas are dropped at the end.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit
from uuid import uuid4

import psycopg
from psycopg import sql

BACKENDS = ("memory", "sqlite", "postgres")


def with_query(url: str, **options: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(options)
    return urlunsplit(parts._replace(query=urlencode(query)))


def libpq_url(url: str) -> str:
    """The server part of a store URL: store options are not libpq parameters."""
    return urlunsplit(urlsplit(url)._replace(query=""))


def schema_of(url: str) -> str:
    schema = dict(parse_qsl(urlsplit(url).query)).get("schema")
    if not schema:
        raise ValueError(f"{url!r} names no schema")
    return schema


def sqlite_path(url: str) -> str:
    """`sqlite:////abs/path.db` → `/abs/path.db` (the URLs of this module are absolute)."""
    return unquote(url.partition("://")[2][1:])


def create_schema(url: str) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema_of(url)))
        connection.execute(create)


@dataclass
class Databases:
    """Hands out URLs of fresh databases; `drop_all` removes the run's PostgreSQL schemas."""

    pg_url: str
    folder: Path
    run: str = field(default_factory=lambda: uuid4().hex[:10])
    schemas: list[str] = field(default_factory=list)
    _files: Iterator[int] = field(default_factory=itertools.count)

    def new_url(self, backend: str, label: str = "store") -> str:
        if backend == "memory":
            return "memory://"
        if backend == "sqlite":
            return f"sqlite:///{self.folder / f'{label}-{next(self._files)}.db'}"
        if backend == "postgres":
            schema = f"gs_bench_{self.run}_{label}_{len(self.schemas)}"
            self.schemas.append(schema)
            return with_query(self.pg_url, schema=schema)
        raise ValueError(f"unknown backend {backend!r}")

    def drop_all(self) -> None:
        if not self.schemas:
            return
        with psycopg.connect(libpq_url(self.pg_url), autocommit=True) as connection:
            for schema in self.schemas:
                drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                connection.execute(drop)
        self.schemas.clear()


@contextmanager
def databases(pg_url: str) -> Iterator[Databases]:
    with tempfile.TemporaryDirectory(prefix="gs-bench-") as folder:
        found = Databases(pg_url, Path(folder))
        try:
            yield found
        finally:
            found.drop_all()


def postgres_version(pg_url: str) -> str:
    with psycopg.connect(libpq_url(pg_url)) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"
