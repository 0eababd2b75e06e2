"""`sessions` finds sessions a page at a time, `history` pages, `tail` follows the log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from greentic_session import AuditedSessionStore, ReplyScope, open_store
from tests.conftest import PERSISTENT_BACKENDS, Databases
from tests.support import make_ctx, make_data, run_console_script

CTX = make_ctx(user="alice")
OTHER = make_ctx(tenant="tenant-b", user="bob")
CHAT = ReplyScope(conversation="chat-42")


def cli(*args: str) -> tuple[int, str, str]:
    done = run_console_script(*args)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def made(url: str) -> list[str]:
    """Five sessions of tenant-a (the last waiting in chat-42), one of tenant-b."""
    with open_store(url) as store:
        keys: list[str] = [
            store.create_session(CTX, make_data(CTX, node=f"n{n}")) for n in range(5)
        ]
        store.register_wait(CTX, "alice", CHAT, keys[-1], make_data(CTX))
        store.create_session(OTHER, make_data(OTHER))
    return keys


def test_sessions_prints_a_table_and_the_cursor_of_the_next_page(
    url: str, made: list[str]
) -> None:
    status, out, _ = cli("sessions", "--url", url, "--tenant", "tenant-a", "--limit", "3")

    assert status == 0
    assert made[-1] in out.splitlines()[3]  # title, header, rule: the newest comes first
    (more,) = [line for line in out.splitlines() if line.startswith("more: --after ")]
    status, rest, _ = cli(
        "sessions", "--url", url, "--tenant", "tenant-a", "--limit", "3", "--after", more[14:]
    )
    assert status == 0 and "no more" in rest
    shown = {key for key in made if key in out or key in rest}
    assert shown == set(made)


def test_sessions_json_pages_with_next(url: str, made: list[str]) -> None:
    pages, after = [], None
    while True:
        cursor = () if after is None else ("--after", after)
        status, out, err = cli("sessions", "--url", url, "--tenant", "tenant-a", "--limit", "2",
                               *cursor, "--json")  # fmt: skip
        assert status == 0, err
        page = json.loads(out)
        pages.append([summary["session_key"] for summary in page["sessions"]])
        if page["next"] is None:
            break
        after = page["next"]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(key for page in pages for key in page) == sorted(made)


def test_sessions_filters_by_state_and_conversation(url: str, made: list[str]) -> None:
    status, out, _ = cli("sessions", "--url", url, "--state", "waiting", "--conversation",
                         "chat-42", "--json")  # fmt: skip

    assert status == 0
    (summary,) = json.loads(out)["sessions"]
    assert (summary["session_key"], summary["state"], summary["user"]) == (
        made[-1], "waiting", "alice",
    )  # fmt: skip


def test_sessions_with_a_bad_cursor_is_bad_usage(url: str, made: list[str]) -> None:
    status, _, err = cli("sessions", "--url", url, "--after", "nonsense")

    assert status == 2
    assert err.startswith("error: invalid_input: after is not a cursor")


@pytest.fixture
def long_history(url: str) -> str:
    with open_store(url) as store:
        key = store.create_session(CTX, make_data(CTX, node="v1"))
        for version in range(2, 8):
            store.update_session(key, make_data(CTX, node=f"v{version}"))
    return key


def versions(url: str, key: str, *options: str) -> list[int]:
    status, out, err = cli("history", key, "--url", url, *options, "--json")
    assert status == 0, err
    return [event["version"] for event in json.loads(out)]


def test_history_pages_with_limit_and_from_version(url: str, long_history: str) -> None:
    assert versions(url, long_history, "--limit", "3") == [1, 2, 3]
    assert versions(url, long_history, "--limit", "3", "--from-version", "4") == [4, 5, 6]
    assert versions(url, long_history, "--from-version", "6") == [6, 7]


def test_history_reverse_is_newest_first(url: str, long_history: str) -> None:
    assert versions(url, long_history, "--reverse", "--limit", "2") == [7, 6]
    assert versions(url, long_history, "--reverse", "--from-version", "3") == [3, 2, 1]


def test_history_with_a_limit_prints_where_the_next_page_starts(
    url: str, long_history: str
) -> None:
    status, out, _ = cli("history", long_history, "--url", url, "--limit", "3")
    assert status == 0 and "more: --from-version 4" in out
    status, out, _ = cli("history", long_history, "--url", url, "--limit", "7")
    assert status == 0 and "more:" not in out


def test_history_from_past_the_end_is_not_found(url: str, long_history: str) -> None:
    status, _, err = cli("history", long_history, "--url", url, "--from-version", "8")

    assert status == 1
    assert "no events from version 8" in err


# -- tail --------------------------------------------------------------------------------


class Tail:
    """`greentic-session tail --json` in a process of its own; lines read as they come."""

    def __init__(self, url: str, *options: str) -> None:
        script = Path(sysconfig.get_path("scripts")) / "greentic-session"
        command = [str(script), "tail", "--url", url, "--interval", "0.1", "--json", *options]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stderr is not None
        self.banner = self.process.stderr.readline()  # it follows from here on
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def events(self, count: int) -> list[dict[str, object]]:
        """The first `count` events it printed (waits up to 20 s for them)."""
        for _ in range(200):
            if len(self.lines) >= count:
                break
            threading.Event().wait(0.1)
        return [json.loads(line) for line in self.lines[:count]]

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=20)


@pytest.fixture
def tail_store(databases: Databases) -> Iterator[tuple[str, AuditedSessionStore]]:
    url = databases.new_url()
    with open_store(url) as store:
        store.create_session(CTX, make_data(CTX, node="before"))  # not news to the tail
        yield url, store


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)
def test_tail_prints_events_as_they_are_written_until_interrupted(
    tail_store: tuple[str, AuditedSessionStore],
) -> None:
    url, store = tail_store
    tail = Tail(url)
    assert tail.banner.startswith("following the log after position 1")

    key = store.create_session(CTX, make_data(CTX))
    store.register_wait(CTX, "alice", CHAT, key, make_data(CTX))
    store.clear_wait(CTX, "alice", CHAT)

    events = tail.events(3)
    assert tail.interrupt() == 0
    assert [(e["session_key"], e["type"]) for e in events] == [
        (key, "created"),
        (key, "wait_registered"),
        (key, "wait_cleared"),
    ]
    assert len(tail.lines) == 3


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)
def test_tail_with_a_tenant_prints_only_that_tenants_events(
    tail_store: tuple[str, AuditedSessionStore],
) -> None:
    url, store = tail_store
    tail = Tail(url, "--tenant", "tenant-b")

    store.create_session(CTX, make_data(CTX))
    theirs = store.create_session(OTHER, make_data(OTHER))
    store.remove_session(theirs)
    store.create_session(CTX, make_data(CTX))
    last = store.create_session(OTHER, make_data(OTHER))

    events = tail.events(3)
    assert tail.interrupt() == 0
    assert [(e["session_key"], e["type"]) for e in events] == [
        (theirs, "created"),
        (theirs, "removed"),
        (last, "created"),
    ]


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)
def test_tail_of_one_session_prints_only_its_events(
    tail_store: tuple[str, AuditedSessionStore],
) -> None:
    url, store = tail_store
    key = store.create_session(CTX, make_data(CTX))
    tail = Tail(url, "--session", key)

    store.create_session(CTX, make_data(CTX))
    store.update_session(key, make_data(CTX, node="two"))
    store.remove_session(key)

    events = tail.events(2)
    assert tail.interrupt() == 0
    assert [(e["version"], e["type"]) for e in events] == [(2, "updated"), (3, "removed")]


def test_tail_of_a_missing_store_is_not_found(tmp_path: Path) -> None:
    status, _, err = cli("tail", "--url", f"sqlite:///{tmp_path / 'none.db'}")

    assert status == 1 and err.startswith("error: not_found: no store at ")
    assert not os.listdir(tmp_path)
