"""Durability and sharing: what the persistent backends (SQLite, PostgreSQL) add to the contract.

Every test here opens the database more than once, which memory:// cannot do, so `backend`
is parametrized over the persistent backends only.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import psycopg
import pytest

from greentic_session import AuditedSessionStore, ErrorCode, SessionError, SessionStore
from greentic_session.projections.read_models import WaitEntry
from tests.conftest import PERSISTENT_BACKENDS, Databases, open_store
from tests.support import FakeClock, make_ctx, make_data, make_scope, run_together

USER = "alice"
CTX = make_ctx(user=USER)
SCOPES = [make_scope(f"chat-{n}") for n in range(6)]
TTL = timedelta(minutes=10)

OpenAnother = Callable[[], SessionStore]

persistent = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)


def reopen(store_url: str, clock: FakeClock) -> SessionStore:
    return open_store(store_url, clock=clock)


# -- close and reopen ----------------------------------------------------------------------


@persistent
def test_sessions_survive_close_and_reopen(store_url: str, fake_clock: FakeClock) -> None:
    data = make_data(CTX, node="persisted", context_json='{"kept":"ü \\"q\\" \x00"}')
    with reopen(store_url, fake_clock) as first:
        key = first.create_session(CTX, data)
    with reopen(store_url, fake_clock) as second:
        assert second.get_session(key) == data


@persistent
def test_waits_and_their_order_survive_close_and_reopen(
    store_url: str, fake_clock: FakeClock
) -> None:
    with reopen(store_url, fake_clock) as first:
        for key, scope in zip(["c", "a", "b"], SCOPES[:3], strict=True):
            first.register_wait(CTX, USER, scope, key, make_data(CTX, node=key))
        first.register_wait(CTX, USER, SCOPES[1], "a", make_data(CTX, node="a2"))
    with reopen(store_url, fake_clock) as second:
        assert second.list_waits_for_user(CTX, USER) == ["c", "b", "a"]
        assert second.find_wait_by_scope(CTX, USER, SCOPES[1]) == "a"
        assert second.get_session("a") == make_data(CTX, node="a2")


@persistent
def test_order_keeps_growing_after_reopen(store_url: str, fake_clock: FakeClock) -> None:
    with reopen(store_url, fake_clock) as first:
        first.register_wait(CTX, USER, SCOPES[0], "old", make_data(CTX))
        first.register_wait(CTX, USER, SCOPES[1], "older", make_data(CTX))
    with reopen(store_url, fake_clock) as second:
        second.register_wait(CTX, USER, SCOPES[2], "new", make_data(CTX))
        second.register_wait(CTX, USER, SCOPES[0], "old", make_data(CTX))
        assert second.list_waits_for_user(CTX, USER) == ["older", "new", "old"]


@persistent
def test_expiry_survives_close_and_reopen(store_url: str, fake_clock: FakeClock) -> None:
    with reopen(store_url, fake_clock) as first:
        first.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX), TTL)
    fake_clock.advance(TTL - timedelta(seconds=1))
    with reopen(store_url, fake_clock) as second:
        assert second.find_wait_by_scope(CTX, USER, SCOPES[0]) == "k"
    fake_clock.advance(timedelta(seconds=2))
    with reopen(store_url, fake_clock) as third:
        assert third.find_wait_by_scope(CTX, USER, SCOPES[0]) is None
        assert third.get_session("k") is None


@persistent
def test_ended_sessions_stay_ended_after_reopen(store_url: str, fake_clock: FakeClock) -> None:
    with reopen(store_url, fake_clock) as first:
        removed = first.create_session(CTX, make_data(CTX))
        first.remove_session(removed)
        first.register_wait(CTX, USER, SCOPES[0], "cleared", make_data(CTX))
        first.clear_wait(CTX, USER, SCOPES[0])
    with reopen(store_url, fake_clock) as second:
        assert second.get_session(removed) is None
        assert second.get_session("cleared") is None
        assert second.list_waits_for_user(CTX, USER) == []
        with pytest.raises(SessionError) as error:
            second.remove_session(removed)
        assert error.value.code is ErrorCode.NOT_FOUND


@persistent
def test_superseded_state_survives_close_and_reopen(store_url: str, fake_clock: FakeClock) -> None:
    with reopen(store_url, fake_clock) as first:
        first.register_wait(CTX, USER, SCOPES[0], "first", make_data(CTX, node="first"))
        first.register_wait(CTX, USER, SCOPES[0], "second", make_data(CTX, node="second"))
    with reopen(store_url, fake_clock) as second:
        assert second.find_wait_by_scope(CTX, USER, SCOPES[0]) == "second"
        assert second.list_waits_for_user(CTX, USER) == ["second"]
        assert second.get_session("first") == make_data(CTX, node="first")
        second.remove_session("first")
        assert second.find_wait_by_scope(CTX, USER, SCOPES[0]) == "second"


@persistent
def test_a_reborn_key_survives_close_and_reopen(store_url: str, fake_clock: FakeClock) -> None:
    with reopen(store_url, fake_clock) as first:
        first.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX, node="life-1"))
        first.remove_session("k")
        first.register_wait(CTX, USER, SCOPES[1], "k", make_data(CTX, node="life-2"))
    with reopen(store_url, fake_clock) as second:
        assert second.get_session("k") == make_data(CTX, node="life-2")
        assert second.find_wait_by_scope(CTX, USER, SCOPES[0]) is None
        assert second.find_wait_by_scope(CTX, USER, SCOPES[1]) == "k"


# -- two instances on one database ---------------------------------------------------------


@persistent
def test_a_created_session_is_visible_to_another_instance(
    store: SessionStore, open_another: OpenAnother
) -> None:
    other = open_another()
    key = store.create_session(CTX, make_data(CTX, node="created"))
    assert other.get_session(key) == make_data(CTX, node="created")


@persistent
def test_an_update_is_visible_to_another_instance(
    store: SessionStore, open_another: OpenAnother
) -> None:
    other = open_another()
    key = store.create_session(CTX, make_data(CTX, node="one"))
    assert other.get_session(key) == make_data(CTX, node="one")
    other.update_session(key, make_data(CTX, node="two"))
    assert store.get_session(key) == make_data(CTX, node="two")


@persistent
def test_a_removal_is_visible_to_another_instance(
    store: SessionStore, open_another: OpenAnother
) -> None:
    other = open_another()
    key = store.create_session(CTX, make_data(CTX))
    assert other.get_session(key) is not None
    store.remove_session(key)
    assert other.get_session(key) is None
    with pytest.raises(SessionError) as error:
        other.update_session(key, make_data(CTX))
    assert error.value.code is ErrorCode.NOT_FOUND


@persistent
def test_a_wait_is_routed_by_another_instance(
    store: SessionStore, open_another: OpenAnother
) -> None:
    other = open_another()
    store.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX))
    assert other.find_wait_by_scope(CTX, USER, SCOPES[0]) == "k"
    assert other.list_waits_for_user(CTX, USER) == ["k"]
    other.clear_wait(CTX, USER, SCOPES[0])
    assert store.get_session("k") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPES[0]) is None


@persistent
def test_scope_takeover_across_instances(store: SessionStore, open_another: OpenAnother) -> None:
    other = open_another()
    store.register_wait(CTX, USER, SCOPES[0], "first", make_data(CTX, node="first"))
    other.register_wait(CTX, USER, SCOPES[0], "second", make_data(CTX, node="second"))
    assert store.find_wait_by_scope(CTX, USER, SCOPES[0]) == "second"
    assert store.list_waits_for_user(CTX, USER) == ["second"]
    store.remove_session("first")
    assert other.find_wait_by_scope(CTX, USER, SCOPES[0]) == "second"


@persistent
def test_order_across_instances(store: SessionStore, open_another: OpenAnother) -> None:
    other = open_another()
    store.register_wait(CTX, USER, SCOPES[0], "x", make_data(CTX))
    other.register_wait(CTX, USER, SCOPES[1], "y", make_data(CTX))
    store.register_wait(CTX, USER, SCOPES[0], "x", make_data(CTX))
    assert store.list_waits_for_user(CTX, USER) == ["y", "x"]
    assert other.list_waits_for_user(CTX, USER) == ["y", "x"]


@persistent
def test_expiry_seen_by_another_instance(
    store: SessionStore, open_another: OpenAnother, fake_clock: FakeClock
) -> None:
    other = open_another()
    store.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX, node="life-1"), TTL)
    fake_clock.advance(TTL * 2)
    assert other.get_session("k") is None
    other.register_wait(CTX, USER, SCOPES[0], "k", make_data(CTX, node="life-2"))
    assert store.get_session("k") == make_data(CTX, node="life-2")


@persistent
def test_concurrent_writers_on_two_instances_lose_nothing(
    store: SessionStore, open_another: OpenAnother
) -> None:
    """Writes on distinct keys from two processes' worth of instances all land, in order."""
    instances = [store, open_another()]
    per_writer = 12

    def writer(index: int) -> None:
        for n in range(per_writer):
            key = f"w{index}-{n}"
            scope = make_scope(f"writer-{index}-{n}")
            instances[index].register_wait(CTX, USER, scope, key, make_data(CTX, node=key))

    assert run_together([partial(writer, i) for i in range(len(instances))]) == []
    listed = store.list_waits_for_user(CTX, USER)
    assert sorted(listed) == sorted(f"w{i}-{n}" for i in range(2) for n in range(per_writer))
    for index in range(len(instances)):
        own = [key for key in listed if key.startswith(f"w{index}-")]
        assert own == [f"w{index}-{n}" for n in range(per_writer)]


@persistent
def test_alternating_writes_from_two_instances_all_succeed(
    store: SessionStore, open_another: OpenAnother
) -> None:
    """Sequential writes never conflict, whatever each instance read or cached before."""
    instances = [store, open_another()]
    key = store.create_session(CTX, make_data(CTX, node="start"))
    for n in range(6):
        writer = instances[n % 2]
        assert writer.get_session(key) is not None
        writer.update_session(key, make_data(CTX, node=f"write-{n}"))
        writer.register_wait(CTX, USER, SCOPES[n % 3], key, make_data(CTX, node=f"wait-{n}"))
    for instance in instances:
        assert instance.get_session(key) == make_data(CTX, node="wait-5")
        assert instance.find_wait_by_scope(CTX, USER, SCOPES[2]) == key
        assert instance.list_waits_for_user(CTX, USER) == [key]


CHILD_SCRIPT = """
import sys
from datetime import datetime
from greentic_session import open_store
from tests.support import FakeClock, make_ctx, make_data, make_scope, run_together

url, now = sys.argv[1], datetime.fromisoformat(sys.argv[2])
ctx = make_ctx(user="alice")
with open_store(url, clock=FakeClock(now)) as store:
    assert store.get_session("parent") == make_data(ctx, node="from-parent")
    store.register_wait(ctx, "alice", make_scope("chat-0"), "child", make_data(ctx, node="child"))
    store.update_session("parent", make_data(ctx, node="changed-by-child"))
"""


@persistent
def test_writes_of_another_process_are_seen_at_once(
    store: SessionStore, store_url: str, fake_clock: FakeClock
) -> None:
    store.register_wait(CTX, USER, SCOPES[1], "parent", make_data(CTX, node="from-parent"))
    assert store.get_session("child") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPES[0]) is None
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, store_url, fake_clock.now.isoformat()],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert store.find_wait_by_scope(CTX, USER, SCOPES[0]) == "child"
    assert store.list_waits_for_user(CTX, USER) == ["parent", "child"]
    assert store.get_session("parent") == make_data(CTX, node="changed-by-child")
    store.update_session("parent", make_data(CTX, node="parent-again"))
    assert store.get_session("parent") == make_data(CTX, node="parent-again")


@persistent
def test_racing_takeovers_from_two_instances_leave_one_owner(
    store: SessionStore, open_another: OpenAnother
) -> None:
    """Two processes registering on one scope at once: one owner, the other superseded."""
    instances = [store, open_another()]
    for round_number in range(6):
        scope = make_scope(f"race-{round_number}")
        keys = [f"r{round_number}-{i}" for i in range(2)]
        errors = run_together(
            [
                partial(instance.register_wait, CTX, USER, scope, key, make_data(CTX, node=key))
                for instance, key in zip(instances, keys, strict=True)
            ]
        )
        assert errors == []
        owner = store.find_wait_by_scope(CTX, USER, scope)
        assert owner in keys
        for instance in instances:
            listed = instance.list_waits_for_user(CTX, USER)
            assert [key for key in listed if key in keys] == [owner]


@persistent
def test_racing_registrations_of_one_new_key_from_two_instances(
    store: SessionStore, open_another: OpenAnother
) -> None:
    """Both may land (one after the other) or one fails as `conflict`; nothing else."""
    instances = [store, open_another()]
    errors = run_together(
        [
            partial(
                instance.register_wait,
                CTX,
                USER,
                SCOPES[i],
                "shared",
                make_data(CTX, node=f"from-{i}"),
            )
            for i, instance in enumerate(instances)
        ]
    )
    assert all(isinstance(error, SessionError) for error in errors), errors
    assert all(
        error.code is ErrorCode.CONFLICT for error in errors if isinstance(error, SessionError)
    )
    assert len(errors) < 2
    waits = store.list_waits_for_user(CTX, USER)
    assert waits == ["shared"]
    owners = [i for i in range(2) if store.find_wait_by_scope(CTX, USER, SCOPES[i]) == "shared"]
    assert len(owners) == 1
    stored = store.get_session("shared")
    assert stored is not None
    assert stored.cursor.node_pointer == f"from-{owners[0]}"


@persistent
def test_instances_hammering_the_same_sessions_and_scopes_all_succeed(
    store: AuditedSessionStore, open_another: OpenAnother
) -> None:
    """Takeovers, moves and updates racing on shared rows: every call applies (a deadlock
    or clash between writers is retried, never reported), and the log still verifies."""
    instances = [store, open_another(), open_another()]
    keys = [f"shared-{n}" for n in range(4)]
    for key in keys:
        store.register_wait(CTX, USER, SCOPES[0], key, make_data(CTX, node=key))

    def writer(index: int) -> None:
        instance = instances[index]
        for n in range(30):
            key = keys[(index + n) % len(keys)]
            instance.register_wait(CTX, USER, SCOPES[n % 3], key, make_data(CTX, node=f"{n}"))
            instance.update_session(keys[n % len(keys)], make_data(CTX, node=f"u{index}-{n}"))

    assert run_together([partial(writer, i) for i in range(len(instances))]) == []
    report = store.verify()
    assert report.ok, report.problems


# -- writes that decide on what this instance wrote last ------------------------------------
# Each instance remembers the state it last wrote (a write skips the read); another
# instance's writes since must still count, also when the write refuses or does nothing.


@persistent
def test_an_update_sees_a_session_another_instance_brought_back(
    store: SessionStore, open_another: OpenAnother
) -> None:
    store.register_wait(CTX, USER, SCOPES[0], "back", make_data(CTX))
    store.remove_session("back")
    open_another().register_wait(CTX, USER, SCOPES[0], "back", make_data(CTX, node="b"))
    store.update_session("back", make_data(CTX, node="updated"))
    assert store.get_session("back") == make_data(CTX, node="updated")


@persistent
def test_a_removal_sees_a_session_another_instance_brought_back(
    store: SessionStore, open_another: OpenAnother
) -> None:
    store.register_wait(CTX, USER, SCOPES[0], "back", make_data(CTX))
    store.remove_session("back")
    open_another().register_wait(CTX, USER, SCOPES[0], "back", make_data(CTX, node="b"))
    store.remove_session("back")
    assert store.get_session("back") is None


@persistent
def test_a_clear_sees_a_wait_another_instance_moved(
    store: SessionStore, open_another: OpenAnother
) -> None:
    store.register_wait(CTX, USER, SCOPES[0], "moved", make_data(CTX))
    open_another().register_wait(CTX, USER, SCOPES[1], "moved", make_data(CTX))
    store.clear_wait(CTX, USER, SCOPES[1])
    assert store.get_session("moved") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPES[1]) is None


@persistent
def test_a_sweep_sees_a_deadline_another_instance_set(
    store: AuditedSessionStore, open_another: OpenAnother, fake_clock: FakeClock
) -> None:
    store.register_wait(CTX, USER, SCOPES[0], "due", make_data(CTX))
    store.remove_session("due")
    open_another().register_wait(CTX, USER, SCOPES[2], "due", make_data(CTX), TTL)
    fake_clock.advance(TTL)
    assert store.sweep_expired() == 1


# -- locations -----------------------------------------------------------------------------


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


@persistent
def test_a_clear_whose_scope_changed_hands_between_its_reads_clears_the_new_holder(
    store: SessionStore, open_another: OpenAnother, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race, staged: the clear reads the index while `old` still holds the scope, then
    `new` takes it over before the clear loads `old`. Clearing nothing would fit no order
    of the two operations."""
    store.register_wait(CTX, USER, SCOPES[0], "old", make_data(CTX))
    store.register_wait(CTX, USER, SCOPES[0], "new", make_data(CTX))
    clearing = open_another()
    reader = clearing._models  # type: ignore[attr-defined]
    read = reader.scope_entry
    answers = [WaitEntry(session_key="old", expires_at=None)]
    monkeypatch.setattr(reader, "scope_entry", lambda key: answers.pop() if answers else read(key))
    clearing.clear_wait(CTX, USER, SCOPES[0])
    assert store.get_session("new") is None
    assert store.find_wait_by_scope(CTX, USER, SCOPES[0]) is None


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


# -- unreachable databases -----------------------------------------------------------------


def open_and_close(url: str) -> BaseException | None:
    """Runs `open_store(url)` in a thread, so a hanging open fails the test instead of the run."""
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            open_store(url).close()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=30)
    if thread.is_alive():
        pytest.fail(f"open_store({url!r}) neither opened nor failed: it must fail fast")
    return outcome[0]


def assert_unavailable(outcome: BaseException | None) -> None:
    assert isinstance(outcome, SessionError), outcome
    assert outcome.code is ErrorCode.UNAVAILABLE
    assert outcome.__cause__ is not None


def test_unreachable_postgres_is_unavailable_with_the_cause_chained() -> None:
    assert_unavailable(open_and_close("postgresql://postgres@127.0.0.1:1/test"))


def test_unreachable_postgres_with_schema_is_unavailable() -> None:
    assert_unavailable(open_and_close("postgresql://postgres@127.0.0.1:1/test?schema=t_missing"))


def test_sqlite_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "store.db"
    assert_unavailable(open_and_close(f"sqlite:///{missing}"))
    assert not missing.parent.exists()


def test_a_broken_sqlite_file_gives_a_session_error_not_a_driver_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    with open_store(f"sqlite:///{path}") as store:
        with sqlite3.connect(path) as raw:
            raw.execute("DROP TABLE gs_session_state")
        with pytest.raises(SessionError) as caught:
            store.get_session("any-key")
    assert caught.value.code is ErrorCode.UNAVAILABLE
    assert isinstance(caught.value.__cause__, sqlite3.Error)


OPENER_SCRIPT = """
import sys
from greentic_session import open_store
from tests.support import make_ctx, make_data

ctx = make_ctx(user="alice")
with open_store(sys.argv[1]) as store:
    print(store.create_session(ctx, make_data(ctx)))
"""


@persistent
def test_processes_opening_a_new_database_at_once_all_succeed(store_url: str) -> None:
    """The first open creates the tables; several processes doing it together must not clash."""
    root = Path(__file__).resolve().parents[2]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER_SCRIPT, store_url],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    keys = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        keys.append(out.strip())
    with open_store(store_url) as store:
        ctx = make_ctx(user="alice")
        assert all(store.get_session(key) == make_data(ctx) for key in keys)


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
