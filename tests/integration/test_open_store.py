"""Where `open_store` puts a store: relative SQLite paths, PostgreSQL schemas, the URL from
the environment or the default file; and the URLs and options it refuses."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from greentic_session import ErrorCode, SessionError, SessionStore
from tests.conftest import Databases, open_store
from tests.integration.persistence import CTX, SCOPES, USER
from tests.support import make_data


def test_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///relative.db") as first:
        key = first.create_session(CTX, make_data(CTX))
    assert (tmp_path / "relative.db").is_file()
    with open_store(f"sqlite:///{tmp_path / 'relative.db'}") as second:
        assert second.get_session(key) == make_data(CTX)


@pytest.mark.postgres
def test_postgres_schema_is_created_and_isolates_stores(pg_dsn: str) -> None:
    databases = Databases("postgres", Path("."), pg_dsn)
    try:
        first_url, second_url = databases.new_url(), databases.new_url()
        with open_store(first_url) as first, open_store(second_url) as second:
            first.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX))
            assert second.get_session("k") is None
            assert second.find_wait_by_scope(CTX, USER, SCOPES[0]) is None
            assert first.find_wait_by_scope(CTX, USER, SCOPES[0]) == "k"
        with psycopg.connect(pg_dsn) as conn:
            found = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ANY(%s)",
                (databases.schemas,),
            ).fetchone()
        assert found is not None
        assert found[0] > 0
    finally:
        databases.drop_all()


@pytest.mark.parametrize(
    "option",
    [
        "connect_timeout=0",
        "connect_timeout=1.5",
        "connect_timeout=abc",
        "connect_timeout=",
        "pool_size=0",
        "max_overflow=-1",
        "lock_timeout=1e3",
        "colour=blue",
    ],
)
def test_a_bad_postgres_url_option_is_invalid_input(option: str) -> None:
    """Checked before any connection: a typo must not give a store that can never open."""
    with pytest.raises(SessionError) as caught:
        open_store(f"postgresql://postgres@127.0.0.1:1/x?{option}")
    assert caught.value.code is ErrorCode.INVALID_INPUT


def test_a_clock_without_a_timezone_is_invalid_input() -> None:
    with pytest.raises(SessionError) as caught:
        open_store("memory://", clock=datetime.now)
    assert caught.value.code is ErrorCode.INVALID_INPUT


def test_environment_variables_of_other_eventsourcing_apps_are_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The log's settings come from the URL alone, never from stray process variables."""
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.popo")
    monkeypatch.setenv("CIPHER_TOPIC", "no.such.module:Cipher")
    url = f"sqlite:///{tmp_path / 'env.db'}"
    with open_store(url) as store:
        key = store.create_session(CTX, make_data(CTX))
    with open_store(url) as reopened:
        assert reopened.get_session(key) == make_data(CTX)


def test_without_a_url_the_store_is_the_one_named_by_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GREENTIC_SESSION_URL", f"sqlite:///{tmp_path / 'from-env.db'}")
    with open_store_default() as store:
        store.create_session(CTX, make_data(CTX))
    assert (tmp_path / "from-env.db").is_file()


def test_without_a_url_or_variable_the_store_is_a_sqlite_file_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GREENTIC_SESSION_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with open_store_default() as store:
        store.create_session(CTX, make_data(CTX))
    assert (tmp_path / "greentic-sessions.db").is_file()


@pytest.mark.parametrize(
    "url", ["mysql://localhost/db", "sqlite://", "postgresql://host", "no-scheme", "memory:/"]
)
def test_an_unsupported_url_is_invalid_input(url: str) -> None:
    with pytest.raises(SessionError) as caught:
        open_store(url)
    assert caught.value.code is ErrorCode.INVALID_INPUT


def open_store_default() -> SessionStore:
    from greentic_session import open_store as open_default

    return open_default()
