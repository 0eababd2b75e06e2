"""An import into PostgreSQL that the server refuses: one clear error, nothing written."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from greentic_session import ErrorCode, SessionError, open_store
from greentic_session.adapters.storage.postgres_schema import EVENTS_TABLE
from tests.conftest import Databases
from tests.contract.test_export_import import export_of

pytestmark = pytest.mark.postgres


def test_an_import_the_server_refuses_is_internal_with_its_cause_and_writes_nothing(
    pg_dsn: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    databases = Databases("postgres", tmp_path, pg_dsn)
    request.addfinalizer(databases.drop_all)
    url = databases.new_url()
    open_store(url).close()
    table = sql.Identifier(databases.schemas[-1], EVENTS_TABLE)
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute(
            sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT at_most_two CHECK (originator_version <= 2)"
            ).format(table)
        )

    with open_store(url) as store, pytest.raises(SessionError) as refused:
        store.import_events(io.StringIO(export_of(2)))

    assert refused.value.code is ErrorCode.INTERNAL
    assert "at_most_two" in refused.value.message
    assert isinstance(refused.value.__cause__, psycopg.errors.CheckViolation)
    with open_store(url) as store:
        assert store.verify().events == 0
