"""`open_store` fed hostile URLs, options and encryption keys: it opens, or refuses with
`invalid_input` or `unavailable`, and never touches a file outside the sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from psycopg import sql

from greentic_session import ErrorCode, SessionError, open_store
from tests.conftest import with_schema
from tests.hostile import CTX, store_url_is_safe, store_urls, within
from tests.strategies import WRONG_TYPES, encryption_keys
from tests.support import make_data, raises_code


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
