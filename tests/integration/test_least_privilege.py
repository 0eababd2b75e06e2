"""Least privilege on PostgreSQL: `greentic-session setup` creates the schema as its owner;
the store then runs under a role that reads and writes rows only: no DDL, and no way to
rewrite or delete the log."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from greentic_session import ErrorCode, EventSourcedSessionStore, open_store
from tests.conftest import with_schema
from tests.support import (
    FakeClock,
    make_ctx,
    make_data,
    make_scope,
    raises_code,
    run_console_script,
)

pytestmark = pytest.mark.postgres
CTX = make_ctx(user="alice")


class Deployment:
    """A fresh schema, its owner's URL, and a runtime role with its own URL."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.schema = f"t_{uuid.uuid4().hex[:16]}"
        self.role = f"gs_app_{uuid.uuid4().hex[:12]}"
        self.owner_url = with_schema(dsn, self.schema)
        parts = urlsplit(self.owner_url)
        netloc = f"{self.role}@{parts.hostname}:{parts.port or 5432}"
        self.runtime_url = urlunsplit(parts._replace(netloc=netloc))

    def admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(statement)

    def as_runtime_role(self, statement: str) -> None:
        with psycopg.connect(self.runtime_url.split("?")[0], autocommit=True) as connection:
            connection.execute(statement)

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"'


@pytest.fixture
def deployment(pg_dsn: str) -> Iterator[Deployment]:
    deployed = Deployment(pg_dsn)
    role, schema = sql.Identifier(deployed.role), sql.Identifier(deployed.schema)
    deployed.admin(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    try:
        yield deployed
    finally:
        deployed.admin(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        deployed.admin(sql.SQL("DROP OWNED BY {}").format(role))
        deployed.admin(sql.SQL("DROP ROLE {}").format(role))


@pytest.fixture
def set_up(deployment: Deployment) -> Deployment:
    result = run_console_script(
        "setup", "--url", deployment.owner_url, "--grant-to", deployment.role
    )
    assert result.returncode == 0, result.stderr
    return deployment


def test_setup_creates_the_schema_and_grants_rows_only(set_up: Deployment) -> None:
    with psycopg.connect(set_up.dsn) as connection:
        rows = connection.execute(
            "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) "
            "FROM information_schema.role_table_grants WHERE grantee = %s "
            "GROUP BY table_name ORDER BY table_name",
            (set_up.role,),
        ).fetchall()
    assert rows == [
        ("greentic_session_events", "INSERT,SELECT"),
        ("gs_scope_history", "DELETE,INSERT,SELECT"),
        ("gs_scope_index", "DELETE,INSERT,SELECT,UPDATE"),
        ("gs_session_index", "DELETE,INSERT,SELECT,UPDATE"),
        ("gs_session_state", "DELETE,INSERT,SELECT,UPDATE"),
        ("gs_stream_heads", "INSERT,SELECT,UPDATE"),
        ("gs_user_waits", "DELETE,INSERT,SELECT,UPDATE"),
    ]


def test_the_store_works_under_the_runtime_role(set_up: Deployment) -> None:
    with open_store(set_up.runtime_url) as store:
        key = store.create_session(CTX, make_data(CTX, node="one"))
        store.update_session(key, make_data(CTX, node="two"), expected_version=1)
        store.register_wait(CTX, "alice", make_scope("chat"), key, make_data(CTX))
        other = store.create_session(CTX, make_data(CTX))
        store.register_wait(CTX, "alice", make_scope("chat"), other, make_data(CTX))
        assert store.find_wait_by_scope(CTX, "alice", make_scope("chat")) == other
        store.clear_wait(CTX, "alice", make_scope("chat"))
        store.remove_session(key)
        assert [e.type for e in store.history(key)][-1] == "removed"
        assert store.explain(CTX, "alice", make_scope("chat")).session_key is None
        found = store.find_sessions(tenant=CTX.tenant_id, state="ended").sessions
        assert {summary.session_key for summary in found} == {key, other}
        store.sweep_expired()
        store.rebuild_projections()
        assert store.verify().ok
        exported = io.StringIO()
        assert store.export_events(exported) == len(exported.getvalue().splitlines()) == 8
    with open_store(set_up.owner_url) as owner:
        assert [e.type for e in owner.history(key)] == [
            "created",
            "updated",
            "wait_registered",
            "wait_superseded",
            "removed",
        ]


def test_the_runtime_role_explains_a_store_made_before_the_scope_history_from_the_log(
    set_up: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """It may not create the table: it warns, explains by replaying the log, and writes
    on; `setup --grant-to` then creates, fills and grants it."""
    chat = make_scope("chat")
    with open_store(set_up.runtime_url) as store:
        first = store.create_session(CTX, make_data(CTX))
        store.register_wait(CTX, "alice", chat, first, make_data(CTX))
    set_up.admin(
        sql.SQL("DROP TABLE {}").format(sql.Identifier(set_up.schema, "gs_scope_history"))
    )

    with caplog.at_level(logging.WARNING), open_store(set_up.runtime_url) as store:
        assert store.explain(CTX, "alice", chat).session_key == first
        second = store.create_session(CTX, make_data(CTX))
        store.register_wait(CTX, "alice", chat, second, make_data(CTX))
        assert store.explain(CTX, "alice", chat).session_key == second
        assert store.verify().ok
    assert "setup --grant-to" in caplog.text

    again = run_console_script("setup", "--url", set_up.owner_url, "--grant-to", set_up.role)
    assert again.returncode == 0, again.stderr
    with open_store(set_up.runtime_url) as store:
        assert isinstance(store, EventSourcedSessionStore)
        assert store.current_read_models().scope_history == store.replay_read_models().scope_history
        assert store.explain(CTX, "alice", chat).session_key == second
        assert store.verify().ok


def test_the_runtime_role_finds_sessions_once_setup_adds_the_session_index(
    set_up: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """A store made before the session index, opened by the runtime role: it warns, and
    `find_sessions` is unavailable until `setup --grant-to` creates, fills and grants it."""
    with open_store(set_up.runtime_url) as store:
        first = store.create_session(CTX, make_data(CTX))
    set_up.admin(
        sql.SQL("DROP TABLE {}").format(sql.Identifier(set_up.schema, "gs_session_index"))
    )

    with caplog.at_level(logging.WARNING), open_store(set_up.runtime_url) as store:
        with raises_code(ErrorCode.UNAVAILABLE):
            store.find_sessions()
        second = store.create_session(CTX, make_data(CTX))
    assert "gs_session_index" in caplog.text

    again = run_console_script("setup", "--url", set_up.owner_url, "--grant-to", set_up.role)
    assert again.returncode == 0, again.stderr
    with open_store(set_up.runtime_url) as store:
        assert [s.session_key for s in store.find_sessions().sessions] == [second, first]
        assert store.verify().ok


def test_the_runtime_role_can_reopen_the_store_without_ddl(set_up: Deployment) -> None:
    with open_store(set_up.runtime_url) as store:
        key = store.create_session(CTX, make_data(CTX))
    with open_store(set_up.runtime_url) as store:
        assert store.get_session(key) == make_data(CTX)


def test_the_read_commands_run_under_the_runtime_role(set_up: Deployment) -> None:
    with open_store(set_up.runtime_url) as store:
        key = store.create_session(CTX, make_data(CTX))
    with open_store(set_up.runtime_url, create=False) as store:
        assert store.get_session(key) == make_data(CTX)
    for command in (["verify"], ["history", key[:8]], ["export", "-"]):
        result = run_console_script(*command, "--url", set_up.runtime_url)
        assert result.returncode == 0, (command, result.stderr)


def test_the_web_app_serves_its_pages_under_the_runtime_role(set_up: Deployment) -> None:
    """The app opens the store read-only (`create=False`), as `greentic-session ui` does."""
    from tests.browser.web import CHAT, need, populate, tell_story

    need("starlette", "jinja2", "httpx")
    from starlette.testclient import TestClient

    from greentic_session.adapters.web.app import web_app

    clock = FakeClock()
    with open_store(set_up.owner_url, clock=clock) as owner:
        story = tell_story(owner, clock)
        populate(owner, clock)
    caller = f"env=dev&tenant=tenant-a&team=support&user=alice&conversation={CHAT.conversation}"
    pages = ["/?tenant=tenant-a", f"/sessions/{story.refund[:8]}",
             f"/sessions/{story.refund}/diff?v1=1&v2=5", f"/scopes?{caller}", "/verify?run=1"]
    with open_store(set_up.runtime_url, create=False) as store, TestClient(
        web_app(store), raise_server_exceptions=False
    ) as client:
        for page in pages:
            answer = client.get(page)
            assert answer.status_code == 200, (page, answer.text[-600:])
        assert 'class="verdict ok"' in client.get("/verify?run=1").text


def test_the_runtime_role_reading_a_schema_not_set_up_is_not_found(
    deployment: Deployment,
) -> None:
    with raises_code(ErrorCode.NOT_FOUND):
        open_store(deployment.runtime_url, create=False)


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE {schema}.intruder (id int)",
        "DROP TABLE {state}",
        "ALTER TABLE {state} ADD COLUMN intruder int",
        "TRUNCATE {state}",
        "CREATE INDEX intruder ON {state} (version)",
    ],
)
def test_the_runtime_role_cannot_change_the_schema(set_up: Deployment, statement: str) -> None:
    text = statement.format(schema=f'"{set_up.schema}"', state=set_up.table("gs_session_state"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        set_up.as_runtime_role(text)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {events} SET topic = 'forged'",
        "DELETE FROM {events}",
        "TRUNCATE {events}",
        "DELETE FROM {heads}",
    ],
)
def test_the_runtime_role_cannot_rewrite_the_log_or_its_anchor(
    set_up: Deployment, statement: str
) -> None:
    with open_store(set_up.runtime_url) as store:
        store.create_session(CTX, make_data(CTX))
    text = statement.format(
        events=set_up.table("greentic_session_events"), heads=set_up.table("gs_stream_heads")
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        set_up.as_runtime_role(text)
    with open_store(set_up.owner_url) as owner:
        assert owner.verify().ok


def test_opening_a_schema_not_set_up_as_the_runtime_role_says_to_run_setup(
    deployment: Deployment,
) -> None:
    with raises_code(ErrorCode.PERMISSION_DENIED):
        open_store(deployment.runtime_url)


def test_setup_twice_is_harmless(set_up: Deployment) -> None:
    again = run_console_script("setup", "--url", set_up.owner_url, "--grant-to", set_up.role)
    assert again.returncode == 0, again.stderr
    with open_store(set_up.runtime_url) as store:
        store.create_session(CTX, make_data(CTX))


def test_setup_for_an_unknown_role_is_invalid_input(deployment: Deployment) -> None:
    result = run_console_script(
        "setup", "--url", deployment.owner_url, "--grant-to", "no_such_role_here"
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr
