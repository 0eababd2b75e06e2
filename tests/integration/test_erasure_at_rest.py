"""Erasure at rest: once `erase` returns, nothing the erased subject wrote is left in the
stored bytes (the SQLite file, its WAL and shared memory; a `pg_dump` of the schema), with
or without encryption, nor in any export made afterwards; what other subjects wrote stays."""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

from greentic_session import (
    EventSourcedSessionStore,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionKey,
    TenantCtx,
    open_store,
)
from greentic_session.adapters.storage.encryption import SealedText, new_key
from tests.conftest import PERSISTENT_BACKENDS, Databases
from tests.contract.helpers import data_for, wait
from tests.support import FakeClock, make_ctx

KEY = new_key()
KEYS = [pytest.param(None, id="plain"), pytest.param(KEY, id="encrypted")]
SUBJECTS = ["session", "user", "tenant"]
ENV = "dev"
REASON = "request-2031-0042"
ERASER = make_ctx(tenant="ops", user="dpo-officer").model_copy(update={"trace_id": "trace-erase"})


SESSION_PARTS = [
    "CTX",
    "NOTES",
    "FLOW",
    "NODE",
    "REASON",
    "OUTBOX",
    "CONV",
    "THREAD",
    "TRACE",
    "CORR",
]


def markers(label: str) -> list[str]:
    """What one session of `label` writes, each string its own (none inside another)."""
    return [f"{part}-{label}" for part in SESSION_PARTS]


def session_data(ctx: TenantCtx, label: str) -> SessionData:
    """A context of several pages: SQLite stores it on overflow pages, which an overwrite
    frees, cleared only where SQLite was built with secure delete (elsewhere: VACUUM)."""
    return SessionData(
        tenant_ctx=ctx,
        flow_id=f"FLOW-{label}",
        cursor=SessionCursor(
            node_pointer=f"NODE-{label}",
            wait_reason=f"REASON-{label}",
            outbox_marker=f"OUTBOX-{label}",
        ),
        context_json=json.dumps({"card": f"CTX-{label}", "notes": f"NOTES-{label} " * 600}),
    )


def write_session(store: EventSourcedSessionStore, owner: TenantCtx, label: str) -> SessionKey:
    """Created, updated, waiting on a scope: every kind of content a session holds, written
    under a caller context whose trace ids (and actor, its user) are markers too."""
    ctx = owner.model_copy(update={"trace_id": f"TRACE-{label}", "correlation_id": f"CORR-{label}"})
    data = session_data(ctx, label)
    scope = ReplyScope(conversation=f"CONV-{label}", thread=f"THREAD-{label}")
    key = store.create_session(ctx, data)
    store.update_session(key, data)
    store.register_wait(ctx, str(owner.user_id), scope, key, data)
    return key


@dataclass(frozen=True)
class Written:
    """The sessions of the subject to erase and of one to keep, and what each wrote."""

    gone: list[SessionKey]
    kept: list[SessionKey]
    gone_markers: list[str]
    kept_markers: list[str]


def write_subjects(store: EventSourcedSessionStore, subject: str) -> Written:
    """The subject to erase: one session (by key), two of a user in a tenant shared with
    the kept user (by user; one of them ended), or two of a tenant (by tenant). The kept
    subject: a session of another user (of the shared tenant, or of another tenant)."""
    gone_tenant = "TENANT-GONE" if subject == "tenant" else "tenant-shared"
    kept_tenant = "TENANT-KEPT" if subject == "tenant" else "tenant-shared"
    gone_ctx = make_ctx(env=ENV, tenant=gone_tenant, team="TEAM-GONE", user="USER-GONE")
    kept_ctx = make_ctx(env=ENV, tenant=kept_tenant, team="TEAM-KEPT", user="USER-KEPT")
    labels = ["GONE-A"] if subject == "session" else ["GONE-A", "GONE-B"]
    gone = [write_session(store, gone_ctx, label) for label in labels]
    if len(gone) > 1:
        store.remove_session(gone[1], ctx=gone_ctx)  # an ended session is erased too
    kept = [write_session(store, kept_ctx, "KEPT-A")]
    owner_markers = ["USER-GONE", "TEAM-GONE"] + (["TENANT-GONE"] if subject == "tenant" else [])
    kept_owner = ["USER-KEPT", "TEAM-KEPT"] + (["TENANT-KEPT"] if subject == "tenant" else [])
    return Written(
        gone=gone,
        kept=kept,
        gone_markers=[m for label in labels for m in markers(label)] + owner_markers,
        kept_markers=markers("KEPT-A") + kept_owner,
    )


def erase_subject(store: EventSourcedSessionStore, subject: str, written: Written) -> None:
    if subject == "session":
        report = store.erase(session=written.gone[0], reason=REASON, ctx=ERASER)
    elif subject == "user":
        report = store.erase(
            env=ENV, tenant="tenant-shared", user="USER-GONE", reason=REASON, ctx=ERASER
        )
    else:
        report = store.erase(env=ENV, tenant="TENANT-GONE", reason=REASON, ctx=ERASER)
    assert sorted(report.sessions) == sorted(written.gone)


def found(markers_: list[str], stored: bytes | str) -> list[str]:
    """The markers in `stored`, as they are or hex-encoded (`pg_dump` writes a `bytea`,
    the log's payloads, as hex: a plain search would miss every event)."""
    data = stored.encode() if isinstance(stored, str) else stored
    return [
        marker
        for marker in markers_
        if marker.encode() in data or marker.encode().hex().encode() in data.lower()
    ]


# -- the stored bytes ----------------------------------------------------------------------


def sqlite_files(url: str) -> list[Path]:
    """The database file and, when present, its write-ahead log and shared memory."""
    path = Path(url.removeprefix("sqlite:///"))
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def sqlite_bytes(url: str) -> bytes:
    files = sqlite_files(url)
    assert files, f"no database file for {url}"
    return b"".join(p.read_bytes() for p in files)


def pg_dump_command() -> str:
    """`pg_dump` on PATH, else the server package's; missing: skip, or fail under CI."""
    on_path = shutil.which("pg_dump")
    if on_path is not None:
        return on_path
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))
    if installed:
        return installed[-1]
    reason = "pg_dump is not installed (not on PATH nor under /usr/lib/postgresql/*/bin)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def pg_dump(url: str) -> bytes:
    parts = urlsplit(url)
    schema = parse_qs(parts.query)["schema"][0]
    command = [
        pg_dump_command(), "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
        "-U", parts.username or "postgres", "-n", schema, parts.path.lstrip("/"),
    ]  # fmt: skip
    dumped = subprocess.run(command, check=True, capture_output=True, timeout=120).stdout
    assert b"greentic_session_events" in dumped or b"stored_events" in dumped, "empty dump"
    return dumped


def stored_bytes(backend: str, url: str) -> bytes:
    return sqlite_bytes(url) if backend == "sqlite" else pg_dump(url)


def every_row(backend: str, url: str) -> list[tuple[Any, ...]]:
    """Every row of every table of the store, read behind its back."""
    if backend == "sqlite":
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            names = [name for (name,) in tables.fetchall()]
            return [row for name in names for row in connection.execute(f'SELECT * FROM "{name}"')]
    schema = parse_qs(urlsplit(url).query)["schema"][0]
    with psycopg.connect(url.split("?")[0], autocommit=True) as connection:
        listed = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
        names = [name for (name,) in listed.fetchall()]
        query = 'SELECT * FROM "{}"."{}"'
        return [row for name in names for row in connection.execute(query.format(schema, name))]


def decrypted(rows: list[tuple[Any, ...]], key: str) -> bytes:
    """What the key's holder reads in `rows`: each payload and sealed column decrypted."""
    cipher = AESCipher(Environment(env={"CIPHER_KEY": key}))
    sealer = SealedText(cipher)
    out = []
    for row in rows:
        for value in row:
            if isinstance(value, bytes | memoryview):
                out.append(cipher.decrypt(bytes(value)))
            elif isinstance(value, str) and value.startswith("gs1:"):
                out.append(sealer.unseal(value).encode())
            else:
                out.append(str(value).encode())
    return b"\n".join(out)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def opened(
    request: pytest.FixtureRequest, store_url: str, clock: FakeClock
) -> Iterator[EventSourcedSessionStore]:
    """The store under test, with the encryption key of the test's `key` parameter."""
    key: str | None = request.getfixturevalue("key")
    with open_store(store_url, clock=clock, encryption_key=key) as store:
        yield store


# -- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_an_erased_subject_leaves_no_marker_in_the_stored_bytes(
    backend: str, key: str | None, subject: str, databases: Databases, clock: FakeClock
) -> None:
    url = databases.new_url()
    with open_store(url, clock=clock, encryption_key=key) as store:
        written = write_subjects(store, subject)
        if key is None:  # the search finds what is there
            assert found(written.gone_markers, stored_bytes(backend, url)) == written.gone_markers
        erase_subject(store, subject, written)
    stored = stored_bytes(backend, url)
    assert found(written.gone_markers, stored) == []
    if key is None:
        assert found(written.kept_markers, stored) == written.kept_markers


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_the_key_holder_decrypts_no_marker_of_an_erased_subject(
    backend: str, subject: str, databases: Databases, clock: FakeClock
) -> None:
    """Encryption alone erases nothing (the key reads it all): every payload and sealed
    column of every table, decrypted with the store's key, holds none of it either."""
    url = databases.new_url()
    with open_store(url, clock=clock, encryption_key=KEY) as store:
        written = write_subjects(store, subject)
        before = decrypted(every_row(backend, url), KEY)
        erase_subject(store, subject, written)
    after = decrypted(every_row(backend, url), KEY)
    assert found(written.gone_markers, before) == written.gone_markers
    assert found(written.gone_markers, after) == []
    assert found(written.kept_markers, after) == written.kept_markers


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_the_stored_bytes_hold_no_marker_as_soon_as_erase_returns(
    backend: str, key: str | None, subject: str, opened: EventSourcedSessionStore, store_url: str
) -> None:
    """Read while the store and its pool of connections are still open (on SQLite the
    last connection's close would checkpoint the WAL anyway: this does not wait for it)."""
    written = write_subjects(opened, subject)
    opened.get_session(written.gone[0])  # the pool has read the content
    erase_subject(opened, subject, written)
    stored = stored_bytes(backend, store_url)
    assert found(written.gone_markers, stored) == []
    if key is None:
        assert found(written.kept_markers, stored) == written.kept_markers


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_another_store_open_on_the_file_during_the_erasure_keeps_no_marker(
    backend: str, key: str | None, subject: str, opened: EventSourcedSessionStore, store_url: str
) -> None:
    """A second store of the same process on the same SQLite file, which read the
    sessions before the erasure and is still open after it: its connections keep no old
    page in the file or the WAL; once it is closed too, still none."""
    written = write_subjects(opened, subject)
    with open_store(store_url, encryption_key=key) as other:
        for session in written.gone + written.kept:
            other.history(session)
        other.get_session(written.kept[0])
        erase_subject(opened, subject, written)
        while_open = sqlite_bytes(store_url)
        other.get_session(written.kept[0])  # it reads on, after the erasure
        assert [e.type for e in other.history(written.gone[0])][-1] == "erased"
    opened.close()
    after = sqlite_bytes(store_url)
    assert found(written.gone_markers, while_open) == []
    assert found(written.gone_markers, after) == []
    if key is None:
        assert found(written.kept_markers, while_open) == written.kept_markers


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("key", KEYS)
def test_an_export_made_after_the_erasure_holds_no_marker(
    key: str | None, subject: str, opened: EventSourcedSessionStore
) -> None:
    """On every backend; an export is clear JSON even from an encrypted store, so the kept
    subject's markers are in it either way."""
    written = write_subjects(opened, subject)
    erase_subject(opened, subject, written)

    whole = io.StringIO()
    opened.export_events(whole)
    by_tenant = io.StringIO()
    gone_tenant = "TENANT-GONE" if subject == "tenant" else "tenant-shared"
    opened.export_events(by_tenant, tenant=gone_tenant)

    assert found(written.gone_markers, whole.getvalue()) == []
    assert found(written.gone_markers, by_tenant.getvalue()) == []
    assert found(written.kept_markers, whole.getvalue()) == written.kept_markers
    erased_lines = [line for line in whole.getvalue().splitlines() if written.gone[0] in line]
    assert erased_lines, "the erased session's envelopes are exported"


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("key", KEYS)
def test_an_archive_made_after_the_erasure_holds_no_marker(
    key: str | None, subject: str, opened: EventSourcedSessionStore, clock: FakeClock
) -> None:
    """The archive takes the kept subject's session, removed; of the erased subject's, if
    it takes any, their envelopes only."""
    written = write_subjects(opened, subject)
    erase_subject(opened, subject, written)
    opened.remove_session(written.kept[0])
    clock.advance(timedelta(minutes=1))

    archive = io.StringIO()
    report = opened.archive(ended_before=clock.now, to=archive)

    assert report.streams >= 1
    assert found(written.gone_markers, archive.getvalue()) == []
    assert found(written.kept_markers, archive.getvalue()) == written.kept_markers
    assert opened.verify().ok


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_an_export_into_another_store_after_the_erasure_brings_no_marker_back(
    backend: str, key: str | None, opened: EventSourcedSessionStore, databases: Databases
) -> None:
    """The erased events import as erased: the target's stored bytes hold none of it."""
    written = write_subjects(opened, "user")
    erase_subject(opened, "user", written)
    exported = io.StringIO()
    count = opened.export_events(exported)
    target_url = databases.new_url()
    with open_store(target_url) as target:
        assert target.import_events(io.StringIO(exported.getvalue())) == count
        assert target.verify().ok
    stored = stored_bytes(backend, target_url)
    assert found(written.gone_markers, stored) == []
    assert found(written.kept_markers, stored) == written.kept_markers


def test_a_sqlite_that_keeps_freed_bytes_gets_its_file_rebuilt_after_an_erasure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built without `secure_delete` on by default, SQLite leaves what earlier writes freed
    in the file's free space: the erasure then rebuilds the file (VACUUM), and the result
    still holds no marker and verifies."""
    from greentic_session.adapters.storage import sqlite

    asked: list[object] = []

    def keeps_freed_bytes(connection: object) -> bool:
        asked.append(connection)
        return False

    monkeypatch.setattr(sqlite, "zeroes_deletes", keeps_freed_bytes)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with open_store(url) as store:
        wait(store, "gone", data=data_for(node="node.marker-gone"))
        store.update_session("gone", data_for(node="node.marker-gone-2"))
        store.erase(session="gone", reason="test")
        assert store.verify().ok
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert asked and b"marker-gone" not in stored
