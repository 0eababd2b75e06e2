"""Fixtures of the integration tests: a sandbox to run `open_store` and the command-line
tool in, so the paths they are fed stay inside it; and, for the tamper tests, the raw
tables of the store under test and the sessions they edit."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from greentic_session import AuditedSessionStore
from greentic_session.adapters.bootstrap.urls import MAX_CONTEXT_VARIABLE, URL_VARIABLE
from tests.integration.tamper import (
    CTX,
    SCOPE_A,
    SCOPE_B,
    USER,
    RawTables,
    Sessions,
    _postgres_tables,
    _sqlite_tables,
)
from tests.support import make_data


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


@pytest.fixture
def raw(
    backend: str, store_url: str, store: AuditedSessionStore, request: pytest.FixtureRequest
) -> RawTables:
    """Direct access to the tables of `store` (opened first, so the tables exist)."""
    if backend == "sqlite":
        return _sqlite_tables(store_url.removeprefix("sqlite:///"))
    schema = parse_qs(urlsplit(store_url).query)["schema"][0]
    return _postgres_tables(request.getfixturevalue("pg_dsn"), schema)


@pytest.fixture
def sessions(store: AuditedSessionStore) -> Sessions:
    key = store.create_session(CTX, make_data(CTX, node="node.first"))
    store.update_session(key, make_data(CTX, node="node.second"))
    store.register_wait(CTX, USER, SCOPE_A, key, make_data(CTX, node="node.third"))
    store.update_session(key, make_data(CTX, node="node.fourth"))
    other = store.create_session(CTX, make_data(CTX, node="node.other"))
    store.register_wait(CTX, USER, SCOPE_B, other, make_data(CTX, node="node.other.wait"))
    assert store.verify().ok
    return Sessions(waiting=key, other=other)
