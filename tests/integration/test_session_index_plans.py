"""Each filter of `find_sessions` pages with an index: the database's own plan for the
query says so (SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's `EXPLAIN`), with no sort."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from greentic_session import AuditedSessionStore
from greentic_session.adapters.storage.encryption import PlainText
from greentic_session.adapters.storage.postgres import tables_in
from greentic_session.adapters.storage.sqlite import sqlite_tables
from greentic_session.domain.session_search import Cursor, SessionQuery
from tests.conftest import PERSISTENT_BACKENDS
from tests.integration.tamper import RawTables

pytestmark = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)

NOW = datetime(2030, 1, 1, tzinfo=UTC)
PAGES = {
    "tenant": SessionQuery(tenant="tenant-3"),
    "user": SessionQuery(user="user-3"),
    "conversation": SessionQuery(conversation="chat-3"),
    "flow": SessionQuery(flow="flow-3"),
    "update": SessionQuery(),
}
"""The index each page should use (`gs_session_index_by_<name>`), and its query."""


ROWS = 5000
"""Index rows written straight into the table: enough for the planner's statistics to
tell a selective filter from the whole table (the write path is tested elsewhere)."""


@pytest.fixture
def filled(store: AuditedSessionStore, raw: RawTables) -> AuditedSessionStore:
    numbers = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "SELECT i FROM n"
    )
    raw.execute(
        "INSERT INTO {q}gs_session_index SELECT 's-' || i, 'k-' || i, 'dev', "
        "'tenant-' || (i - i / 7 * 7), NULL, 'user-' || (i - i / 11 * 11), "
        "'flow-' || (i - i / 5 * 5), "
        "'chat-' || (i - i / 13 * 13), '[]', NULL, 'live', 0, 1, i * 1000, NULL "
        f"FROM ({numbers}) AS numbers",
        (ROWS,),
    )
    return store


def sqlite_plan(url: str, text: str, params: tuple[object, ...]) -> str:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        connection.execute("ANALYZE")
        rows = connection.execute(f"EXPLAIN QUERY PLAN {text}", params).fetchall()
    finally:
        connection.close()
    return "\n".join(str(row[-1]) for row in rows)


def postgres_plan(dsn: str, schema: str, text: str, params: tuple[object, ...]) -> str:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'ANALYZE "{schema}".gs_session_index')
        # A table this small is cheaper read whole, or by bitmap and sorted: with those off,
        # the plan shows whether the index alone can give the page in its order.
        for method in ("seqscan", "bitmapscan", "sort"):
            connection.execute(f"SET enable_{method} = off")
        rows = connection.execute(f"EXPLAIN {text}", params).fetchall()
    return "\n".join(str(row[0]) for row in rows)


@pytest.mark.parametrize("name", sorted(PAGES))
@pytest.mark.parametrize("paged", [False, True], ids=["first page", "after a cursor"])
def test_each_filter_pages_along_its_index_without_sorting(
    backend: str, store_url: str, filled: AuditedSessionStore, name: str, paged: bool,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    query = PAGES[name]
    if paged:
        query = replace(query, after=Cursor(10**17, "some-key"))
    if backend == "sqlite":
        text, params = sqlite_tables().session_index.query(query, NOW, PlainText())
        plan = sqlite_plan(store_url, text, params)
        assert f"USING INDEX gs_session_index_by_{name}" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    else:
        schema = parse_qs(urlsplit(store_url).query)["schema"][0]
        tables = tables_in(schema, f'"{schema}".events')
        text, params = tables.session_index.query(query, NOW, PlainText())
        plan = postgres_plan(request.getfixturevalue("pg_dsn"), schema, text, params)
        assert f"Index Scan Backward using gs_session_index_by_{name}" in plan, plan
        assert "Sort" not in plan, plan
