"""The tool behaves the same in every command: `--json` everywhere, errors as JSON with
it, `-v` after the command's name, times that `--at` takes back, `export` that keeps an
existing file, `sweep --dry-run`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greentic_session import ReplyScope, open_store
from greentic_session.domain.instants import instant_text
from tests.conftest import PERSISTENT_BACKENDS
from tests.support import FakeClock, make_ctx, make_data, run_console_script

# In the past (the tool reads with the real clock), and between whole seconds.
START = datetime(2025, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)
CTX = make_ctx(user="alice")
CALLER = ("--env", "dev", "--tenant", "tenant-a", "--user", "alice")
CHAT = ReplyScope(conversation="chat-42")
EVERY_COMMAND = [
    ("history", "k"),
    ("show", "k"),
    ("diff", "k", "1", "2"),
    ("waits", *CALLER),
    ("explain", *CALLER, "--conversation", "c"),
    ("sessions",),
    ("tail",),
    ("verify",),
    ("rebuild",),
    ("sweep",),
    ("export", "-"),
    ("import", "-"),
    ("setup",),
    ("demo",),
    ("keygen",),
    ("ui",),
]


def cli(*args: str) -> tuple[int, str, str]:
    done = run_console_script(*args)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def cli_json(*args: str) -> object:
    status, out, err = cli(*args, "--json")
    assert status == 0, err
    return json.loads(out)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=[c[0] for c in EVERY_COMMAND])
def test_every_command_takes_json_and_v(command: tuple[str, ...]) -> None:
    done = run_console_script(*command, "--json", "-v", "--help")
    assert done.returncode == 0, done.stderr
    assert "--json" in done.stdout and "--verbose" in done.stdout


def test_keygen_json_is_an_object_with_the_key() -> None:
    key = cli_json("keygen")
    assert isinstance(key, dict) and len(key["key"]) == 44


def test_a_store_error_with_json_is_a_json_object_on_stderr(tmp_path: Path) -> None:
    status, out, err = cli("verify", "--url", f"sqlite:///{tmp_path / 'none.db'}", "--json")
    assert (status, out) == (1, "")
    error = json.loads(err)["error"]
    assert error["code"] == "not_found" and error["message"].startswith("no store at ")


def test_a_usage_error_with_json_is_a_json_object_on_stderr(url: str) -> None:
    status, _, err = cli("show", "k", "--at", "yesterday", "--url", url, "--json")
    assert status == 2
    error = json.loads(err)["error"]
    assert (
        error["code"] == "invalid_input"
        and "'yesterday' is not an ISO 8601 time" in (error["message"])
    )


def test_verbose_works_after_the_command_name(url: str) -> None:
    with open_store(url):
        pass
    status, out, err = cli("verify", "-v", "--url", url)
    assert (status, out) == (0, "verify: ok (0 streams, 0 events checked)\n")
    assert "DEBUG:greentic_session" in err


# -- times ---------------------------------------------------------------------------


def seed_within_one_second(url: str) -> str:
    """v1 at 12:00:00.25, v2 at 12:00:00.55: one second apart they are not."""
    clock = FakeClock(START)
    with open_store(url, clock=clock) as store:
        key = store.create_session(CTX, make_data(CTX, node="first"))
        clock.advance(timedelta(milliseconds=300))
        store.register_wait(CTX, "alice", CHAT, key, make_data(CTX, node="second"))
    return str(key)


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_a_time_history_prints_pasted_into_show_at_is_the_state_at_that_event(
    store_url: str,
) -> None:
    key = seed_within_one_second(store_url)
    status, out, _ = cli("history", key, "--url", store_url)
    assert status == 0
    printed = [line.split()[2] for line in out.splitlines()[3:]]
    assert printed == [instant_text(START), instant_text(START + timedelta(milliseconds=300))]
    for at, node in zip(printed, ["first", "second"], strict=True):
        data = cli_json("show", key, "--at", at, "--url", store_url)
        assert isinstance(data, dict) and data["cursor"]["node_pointer"] == node


def test_a_time_history_prints_pasted_into_explain_at_finds_the_wait(url: str) -> None:
    key = seed_within_one_second(url)
    events = cli_json("history", key, "--url", url)
    assert isinstance(events, list)
    registered = events[1]["recorded_at"]
    chat = ("--conversation", "chat-42")
    status, out, _ = cli("explain", *CALLER, *chat, "--at", registered, "--url", url)
    assert status == 0
    assert f"resumes  {key}" in out


def test_explain_prints_every_time_in_one_style(url: str) -> None:
    seed_within_one_second(url)
    at = instant_text(START + timedelta(seconds=1))
    status, out, _ = cli("explain", *CALLER, "--conversation", "chat-42", "--at", at, "--url", url)
    assert status == 0
    assert "+00:00" not in out
    assert f"at {at}" in out and f"{instant_text(START + timedelta(milliseconds=300))}:" in out


# -- waits, export, sweep ------------------------------------------------------------------


def test_waits_json_has_the_deadline_the_table_shows(url: str) -> None:
    clock = FakeClock(START)
    with open_store(url, clock=clock) as store:
        store.register_wait(CTX, "alice", CHAT, "w-1", make_data(CTX), timedelta(days=36500))
    rows = cli_json("waits", *CALLER, "--url", url)
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    deadline = instant_text(START + timedelta(days=36500))
    assert row["session_key"] == "w-1" and row["expires_at"] == deadline
    assert row["flow_id"] == "flow-alpha" and row["node_pointer"] == "node.wait"
    status, out, _ = cli("waits", *CALLER, "--url", url)
    assert status == 0 and deadline in out


def test_export_refuses_to_replace_an_existing_file_without_force(tmp_path: Path, url: str) -> None:
    seed_within_one_second(url)
    dump = tmp_path / "events.jsonl"
    dump.write_text("keep me\n")
    status, _, err = cli("export", str(dump), "--url", url)
    assert status == 1 and "give --force" in err
    assert dump.read_text() == "keep me\n"
    assert cli_json("export", str(dump), "--force", "--url", url) == {"exported": 2}
    assert len(dump.read_text().splitlines()) == 2


def test_sweep_dry_run_lists_what_would_expire_and_writes_nothing(url: str) -> None:
    with open_store(url, clock=FakeClock(START)) as store:
        store.register_wait(CTX, "alice", CHAT, "short", make_data(CTX), timedelta(minutes=1))
    assert cli_json("sweep", "--dry-run", "--url", url) == {"dry_run": True, "due": ["short"]}
    status, out, _ = cli("sweep", "--dry-run", "--url", url)
    assert status == 0 and "  short" in out.splitlines()
    with open_store(url) as store:
        assert [event.type for event in store.history("short")][-1] == "wait_registered"
    assert cli_json("sweep", "--url", url) == {"expired": 1}
