"""Instances and processes writing one database at once lose nothing and leave one owner
per scope."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

from greentic_session import AuditedSessionStore, ErrorCode, SessionError, SessionStore
from tests.conftest import open_store
from tests.integration.persistence import CTX, SCOPES, USER, OpenAnother, persistent
from tests.support import make_ctx, make_data, make_scope, run_together


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
