"""Least privilege and erasure, on PostgreSQL: the runtime role (rows only, no rewriting
the log) cannot erase, and its attempt changes nothing; the tables' owner can."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from greentic_session import ErrorCode, EventSourcedSessionStore, open_store
from tests.integration.test_least_privilege import CTX, Deployment
from tests.support import make_data, make_scope, raises_code, run_console_script

pytestmark = pytest.mark.postgres

REASON = "request-2031-0042"
DATA = make_data(CTX, node="node.kept", context_json='{"card": "4111"}')


@pytest.fixture
def set_up(pg_dsn: str) -> Iterator[Deployment]:
    """A schema set up by its owner, with rows-only grants to a runtime role (as
    `test_least_privilege`: `greentic-session setup --grant-to`)."""
    deployed = Deployment(pg_dsn)
    role, schema = sql.Identifier(deployed.role), sql.Identifier(deployed.schema)
    deployed.admin(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    try:
        result = run_console_script(
            "setup", "--url", deployed.owner_url, "--grant-to", deployed.role
        )
        assert result.returncode == 0, result.stderr
        yield deployed
    finally:
        deployed.admin(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        deployed.admin(sql.SQL("DROP OWNED BY {}").format(role))
        deployed.admin(sql.SQL("DROP ROLE {}").format(role))


def write_sessions(deployment: Deployment) -> tuple[str, str]:
    """As the runtime role: a waiting session and an ended one, both of alice."""
    with open_store(deployment.runtime_url) as store:
        waiting = store.create_session(CTX, DATA)
        store.register_wait(CTX, "alice", make_scope("chat"), waiting, DATA)
        ended = store.create_session(CTX, DATA)
        store.remove_session(ended)
    return waiting, ended


def events_table(deployment: Deployment) -> list[tuple[object, ...]]:
    """Every stored event, read as the admin: what an erasure would overwrite."""
    with psycopg.connect(deployment.dsn) as connection:
        query = "SELECT originator_id, originator_version, topic, state FROM {} ORDER BY 1, 2"
        rows = connection.execute(query.format(deployment.table("greentic_session_events")))
        return [tuple(row) for row in rows.fetchall()]


def erase(store: EventSourcedSessionStore, subject: str, waiting: str) -> None:
    """Erase `waiting` by its key, or every session of its tenant, or of its user."""
    if subject == "session":
        store.erase(session=waiting, reason=REASON)
    elif subject == "tenant":
        store.erase(env="dev", tenant=CTX.tenant_id, reason=REASON)
    else:
        store.erase(env="dev", tenant=CTX.tenant_id, user="alice", reason=REASON)


def assert_unchanged(deployment: Deployment, waiting: str, ended: str) -> None:
    """Both sessions as written, readable, and the log verifies with no erasure in it."""
    with open_store(deployment.runtime_url) as store:
        assert store.get_session(waiting) == DATA
        assert [e.type for e in store.history(waiting)] == ["created", "wait_registered"]
        assert [e.type for e in store.history(ended)] == ["created", "removed"]
        assert store.find_wait_by_scope(CTX, "alice", make_scope("chat")) == waiting
        report = store.verify()
        assert report.ok, report.problems
        assert report.erasures == []


@pytest.mark.parametrize("subject", ["session", "tenant", "user"])
def test_the_runtime_role_cannot_erase(set_up: Deployment, subject: str) -> None:
    waiting, ended = write_sessions(set_up)
    before = events_table(set_up)
    with open_store(set_up.runtime_url) as store, raises_code(ErrorCode.PERMISSION_DENIED):
        erase(store, subject, waiting)
    assert events_table(set_up) == before
    assert_unchanged(set_up, waiting, ended)


def test_the_runtime_role_refused_by_the_log_itself_changes_nothing(set_up: Deployment) -> None:
    """A store made before the scope history: no index for the erasure to create, so the
    refusal comes from the log (no UPDATE on it), in the write that would also have
    appended the erasure and changed the read models: all of it rolled back."""
    waiting, ended = write_sessions(set_up)
    set_up.admin(sql.SQL("DROP TABLE {}").format(sql.Identifier(set_up.schema, "gs_scope_history")))
    before = events_table(set_up)
    with open_store(set_up.runtime_url) as store, raises_code(ErrorCode.PERMISSION_DENIED):
        store.erase(session=waiting, reason=REASON)
    assert events_table(set_up) == before
    assert_unchanged(set_up, waiting, ended)


def test_the_runtime_role_cannot_erase_once_the_owner_has_erased(set_up: Deployment) -> None:
    """The owner's erasure stays as it was; the runtime role's attempt adds nothing."""
    waiting, ended = write_sessions(set_up)
    with open_store(set_up.owner_url) as owner:
        owner.erase(session=ended, reason=REASON)
    before = events_table(set_up)
    with open_store(set_up.runtime_url) as store:
        with raises_code(ErrorCode.PERMISSION_DENIED):
            store.erase(session=waiting, reason=REASON)
        assert store.get_session(waiting) == DATA
        report = store.verify()
        assert report.ok, report.problems
        assert [e.session_key for e in report.erasures] == [ended]
    assert events_table(set_up) == before


def test_the_owner_erases_and_the_runtime_role_verifies_after(set_up: Deployment) -> None:
    waiting, ended = write_sessions(set_up)
    with open_store(set_up.owner_url) as owner:
        report = owner.erase(env="dev", tenant=CTX.tenant_id, user="alice", reason=REASON)
    assert sorted(report.sessions) == sorted([waiting, ended])
    assert report.events == 4
    with open_store(set_up.runtime_url) as store:
        assert store.get_session(waiting) is None
        assert store.find_wait_by_scope(CTX, "alice", make_scope("chat")) is None
        assert [e.type for e in store.history(waiting)] == ["created", "wait_registered", "erased"]
        assert all(e.erased for e in store.history(waiting)[:2])
        verified = store.verify()
        assert verified.ok, verified.problems
        assert sorted(e.session_key for e in verified.erasures) == sorted([waiting, ended])
        new = store.create_session(CTX, DATA)  # the runtime role writes on
        assert store.get_session(new) == DATA
