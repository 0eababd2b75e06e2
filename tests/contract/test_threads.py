"""One store used from several threads at once: writes land, takeovers stay atomic, races
fail only as session errors."""

from __future__ import annotations

from functools import partial

from greentic_session import ErrorCode, SessionError, SessionStore
from tests.contract.helpers import CTX, USER, data_for, wait
from tests.support import make_scope, run_together


def test_writes_from_several_threads_all_land(store: SessionStore) -> None:
    """Every operation is atomic; writes on distinct keys from many threads lose nothing."""
    per_thread = 10

    def writer(index: int) -> None:
        for n in range(per_thread):
            key = f"t{index}-{n}"
            wait(store, key, make_scope(f"thread-{index}-{n}"))
            store.update_session(key, data_for(node=f"updated-{key}"))

    assert run_together([partial(writer, i) for i in range(4)]) == []
    listed = store.list_waits_for_user(CTX, USER)
    assert sorted(listed) == sorted(f"t{i}-{n}" for i in range(4) for n in range(per_thread))
    for index in range(4):
        own = [key for key in listed if key.startswith(f"t{index}-")]
        assert own == [f"t{index}-{n}" for n in range(per_thread)]
    assert store.get_session("t3-9") == data_for(node="updated-t3-9")


def test_racing_registrations_on_one_scope_leave_one_owner(store: SessionStore) -> None:
    """Takeover is atomic: however two registrations interleave, one session owns the scope."""
    for round_number in range(8):
        scope = make_scope(f"race-{round_number}")
        keys = [f"r{round_number}-a", f"r{round_number}-b"]
        errors = run_together([partial(wait, store, key, scope) for key in keys])
        assert errors == []
        owner = store.find_wait_by_scope(CTX, USER, scope)
        assert owner in keys
        assert [key for key in store.list_waits_for_user(CTX, USER) if key in keys] == [owner]


def test_racing_writes_on_one_key_fail_only_with_session_errors(store: SessionStore) -> None:
    """Concurrent writes to one session either land or fail as a SessionError (`conflict`)."""
    key = store.create_session(CTX, data_for(node="start"))
    errors = run_together(
        [partial(store.update_session, key, data_for(node=f"write-{n}")) for n in range(4)]
    )
    assert all(isinstance(error, SessionError) for error in errors), errors
    assert all(
        error.code is ErrorCode.CONFLICT for error in errors if isinstance(error, SessionError)
    )
    stored = store.get_session(key)
    assert stored is not None
    assert stored.cursor.node_pointer in {f"write-{n}" for n in range(4)}
