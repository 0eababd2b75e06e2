"""Encryption at rest: with a key, no session content is stored in clear, neither in the
log nor in the read models; a wrong or missing key is a clear error, never garbage."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from greentic_session import (
    AuditedSessionStore,
    ErrorCode,
    EventSourcedSessionStore,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionError,
    open_store,
)
from greentic_session.adapters.storage.encryption import KEY_VARIABLE, new_key
from tests.conftest import PERSISTENT_BACKENDS, Databases
from tests.support import FakeClock, make_ctx, raises_code

KEY = new_key()
SECRETS = [
    "CTX-SECRET-card-4111",
    "NODE-SECRET-ask-iban",
    "FLOW-SECRET-refund",
    "REASON-SECRET-waiting",
    "OUTBOX-SECRET-17",
    "CONV-SECRET-chat",
    "THREAD-SECRET-9",
    "TENANT-SECRET-acme",
    "USER-SECRET-alice",
]
CTX = make_ctx(tenant="TENANT-SECRET-acme", user="USER-SECRET-alice")
SCOPE = ReplyScope(conversation="CONV-SECRET-chat", thread="THREAD-SECRET-9")
DATA = SessionData(
    tenant_ctx=CTX,
    flow_id="FLOW-SECRET-refund",
    cursor=SessionCursor(
        node_pointer="NODE-SECRET-ask-iban",
        wait_reason="REASON-SECRET-waiting",
        outbox_marker="OUTBOX-SECRET-17",
    ),
    context_json='{"card": "CTX-SECRET-card-4111"}',
)


def fill(store: AuditedSessionStore) -> str:
    """Every kind of write, so every column and event type holds the secrets."""
    key = store.create_session(CTX, DATA)
    store.update_session(key, DATA)
    store.register_wait(CTX, "USER-SECRET-alice", SCOPE, key, DATA)
    other = store.create_session(CTX, DATA)
    store.register_wait(CTX, "USER-SECRET-alice", SCOPE, other, DATA)
    waiting = store.create_session(CTX, DATA)
    store.register_wait(
        CTX, "USER-SECRET-alice", ReplyScope(conversation="CONV-SECRET-chat"), waiting, DATA
    )
    return key


def clear_secrets(dump: bytes) -> list[str]:
    return [secret for secret in SECRETS if secret.encode() in dump]


def sqlite_bytes(url: str) -> bytes:
    """The database file and whatever sits beside it (write-ahead log, shared memory)."""
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(f"{path.name}*"))


def pg_dump(url: str) -> bytes:
    parts = urlsplit(url)
    schema = parse_qs(parts.query)["schema"][0]
    command = [
        "pg_dump", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
        "-U", parts.username or "postgres", "-n", schema, parts.path.lstrip("/"),
    ]  # fmt: skip
    return subprocess.run(command, check=True, capture_output=True, timeout=120).stdout


def stored_bytes(backend: str, url: str) -> bytes:
    return sqlite_bytes(url) if backend == "sqlite" else pg_dump(url)


@pytest.fixture
def encrypted(store_url: str, fake_clock: FakeClock) -> Iterator[EventSourcedSessionStore]:
    with open_store(store_url, clock=fake_clock, encryption_key=KEY) as store:
        yield store


def test_an_encrypted_store_keeps_the_contract(encrypted: EventSourcedSessionStore) -> None:
    key = fill(encrypted)
    assert encrypted.get_session(key) == DATA
    holder = encrypted.find_wait_by_scope(CTX, "USER-SECRET-alice", SCOPE)
    assert holder is not None and holder != key
    assert len(encrypted.list_waits_for_user(CTX, "USER-SECRET-alice")) == 2
    assert [e.type for e in encrypted.history(key)] == [
        "created",
        "updated",
        "wait_registered",
        "wait_superseded",
    ]
    assert encrypted.get_session_at(key, version=1) == DATA
    assert encrypted.explain(CTX, "USER-SECRET-alice", SCOPE).session_key == holder
    assert encrypted.verify().ok
    encrypted.rebuild_projections()
    assert encrypted.current_read_models() == encrypted.replay_read_models()


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_nothing_a_session_says_is_stored_in_clear(backend: str, databases: Databases) -> None:
    url = databases.new_url()
    with open_store(url, encryption_key=KEY) as store:
        fill(store)
        store.rebuild_projections()
    assert clear_secrets(stored_bytes(backend, url)) == []


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_without_a_key_the_same_content_is_in_clear(backend: str, databases: Databases) -> None:
    """The control: the dump above would show the secrets if they were there."""
    url = databases.new_url()
    with open_store(url) as store:
        fill(store)
    assert clear_secrets(stored_bytes(backend, url)) == SECRETS


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_a_wrong_key_is_a_clear_error(backend: str, databases: Databases) -> None:
    url = databases.new_url()
    with open_store(url, encryption_key=KEY) as store:
        fill(store)
    with pytest.raises(SessionError) as caught:
        open_store(url, encryption_key=new_key())
    assert caught.value.code is ErrorCode.UNAUTHENTICATED
    assert "encryption key is not the one it was written with" in caught.value.message


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_an_encrypted_store_opened_without_its_key_says_so(
    backend: str, databases: Databases
) -> None:
    url = databases.new_url()
    with open_store(url, encryption_key=KEY) as store:
        fill(store)
    with raises_code(ErrorCode.UNAUTHENTICATED):
        open_store(url)


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_a_plain_store_opened_with_a_key_says_it_is_not_encrypted(
    backend: str, databases: Databases
) -> None:
    url = databases.new_url()
    with open_store(url) as store:
        fill(store)
    with raises_code(ErrorCode.INVALID_INPUT):
        open_store(url, encryption_key=KEY)


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_the_key_can_come_from_the_environment(
    backend: str, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = databases.new_url()
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    with open_store(url) as store:
        key = fill(store)
    with open_store(url, encryption_key=KEY) as store:
        assert store.get_session(key) == DATA
    monkeypatch.delenv(KEY_VARIABLE)
    with raises_code(ErrorCode.UNAUTHENTICATED):
        open_store(url)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "short",
        "not base64 at all!",
        "QUJD",
        pytest.param(new_key()[:-4], id="truncated-key"),  # a random key must not name a test
        "é" * 44,
    ],
)
def test_a_malformed_key_is_invalid_input(bad: str) -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        open_store("memory://", encryption_key=bad)


def test_a_key_of_another_type_is_invalid_input() -> None:
    with raises_code(ErrorCode.INVALID_INPUT):
        open_store("memory://", encryption_key=b"0" * 32)  # type: ignore[arg-type]


def test_an_export_moves_sessions_to_a_store_with_another_key(
    encrypted: AuditedSessionStore, databases: Databases
) -> None:
    """Key rotation and enabling encryption: export (clear JSON) and import elsewhere."""
    key = fill(encrypted)
    exported = io.StringIO()
    count = encrypted.export_events(exported)
    other_key = new_key()
    with open_store(databases.new_url(), encryption_key=other_key) as target:
        assert target.import_events(io.StringIO(exported.getvalue())) == count
        assert target.get_session(key) == DATA
        assert target.verify().ok
        assert [e.hash for e in target.history(key)] == [e.hash for e in encrypted.history(key)]


INDEX_SECRETS = {
    "env": "ENV-SECRET-prod",
    "tenant": "TENANT-SECRET-index",
    "team": "TEAM-SECRET-blue",
    "user": "USER-SECRET-carol",
    "flow": "FLOW-SECRET-index",
    "conversation": "CONV-SECRET-index",
}


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_the_session_index_filters_by_digests_with_no_identifier_in_clear(
    backend: str, databases: Databases
) -> None:
    """Exact filters work on keyed digests; the summary's fields come unsealed."""
    url = databases.new_url()
    s = INDEX_SECRETS
    ctx = make_ctx(env=s["env"], tenant=s["tenant"], team=s["team"], user=s["user"])
    data = DATA.model_copy(update={"tenant_ctx": ctx, "flow_id": s["flow"]})
    with open_store(url, encryption_key=KEY) as store:
        key = store.create_session(ctx, data)
        store.register_wait(ctx, s["user"], ReplyScope(conversation=s["conversation"]), key, data)
        found = [
            store.find_sessions(**{name: value}).sessions  # type: ignore[arg-type]
            for name, value in s.items()
        ]
        store.rebuild_projections()
        rebuilt = store.find_sessions(tenant=s["tenant"], user=s["user"]).sessions
    assert [[summary.session_key for summary in page] for page in found] == [[key]] * len(s)
    (summary,) = rebuilt
    assert (summary.env, summary.tenant, summary.team, summary.user) == (
        s["env"], s["tenant"], s["team"], s["user"],
    )  # fmt: skip
    assert (summary.flow, summary.conversation) == (s["flow"], s["conversation"])
    stored = stored_bytes(backend, url)
    assert [secret for secret in s.values() if secret.encode() in stored] == []
