"""The `greentic-session` command-line tool, run as users run it: the console script in a
process of its own, against a SQLite file (and PostgreSQL where the store matters).

Each test seeds its store in-process through the library, closes it, then runs the tool.
"""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from greentic_session import ReplyScope, open_store
from tests.conftest import PERSISTENT_BACKENDS
from tests.support import FakeClock, make_ctx, make_data, run_console_script, run_on_a_terminal

# In the past: the tool reads with the real clock, so everything seeded has happened.
START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
CALLER = ("--env", "dev", "--tenant", "tenant-a", "--user", "alice")
CHAT = ReplyScope(conversation="chat-42", thread="refund")
CHAT_OPTIONS = ("--conversation", "chat-42", "--thread", "refund")
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/x?connect_timeout=1"


def seed(url: str) -> str:
    """At 12:00 the refund flow parks on chat-42/refund; at 12:05 survey-1 takes the scope
    over (refund: created, wait_registered, wait_superseded). Returns the refund key."""
    clock = FakeClock(START)
    ctx = make_ctx(user="alice")
    with open_store(url, clock=clock) as store:
        refund = store.create_session(ctx, make_data(ctx, node="start", flow="refund"))
        parked = make_data(ctx, node="ask_order_number", flow="refund", context_json='{"n": 1}')
        store.register_wait(ctx, "alice", CHAT, refund, parked)
        clock.advance(timedelta(minutes=5))
        survey = make_data(ctx, node="ask_rating", flow="survey")
        store.register_wait(ctx, "alice", CHAT, "survey-1", survey)
    return str(refund)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def url(db: Path) -> str:
    return f"sqlite:///{db}"


@pytest.fixture
def refund(url: str) -> str:
    return seed(url)


def cli(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    done = run_console_script(*args, stdin=stdin)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def cli_json(*args: str) -> Any:
    status, out, err = cli(*args, "--json")
    assert status == 0, err
    return json.loads(out)


def rows(table: str) -> list[list[str]]:
    """The cells of each line of a plain-text table (cells hold no spaces here)."""
    return [line.split() for line in table.splitlines()]


def tamper(db: Path, statement: str) -> None:
    """Edit the SQLite file behind the store's back; `{events}` names the events table."""
    with closing(sqlite3.connect(db)) as conn:
        tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE ?"
        (events,) = conn.execute(tables, ("%originator_version%",)).fetchone()
        conn.execute(statement.format(events=events))
        conn.commit()


# -- history, show, diff --------------------------------------------------------------


def test_history_prints_a_plain_table_of_every_event(url: str, refund: str) -> None:
    status, out, _ = cli("history", refund, "--url", url)
    assert status == 0
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0] == f"history of {refund}: 3 events"
    assert lines[1].split()[:4] == ["v", "pos", "recorded", "(UTC)"]
    assert "2025-01-01T12:05:00.000000Z  wait_superseded by survey-1" in out
    assert "refund / ask_order_number" in out and "chat-42/refund" in out


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_history_json_is_the_list_of_events(store_url: str) -> None:
    refund = seed(store_url)
    events = cli_json("history", refund, "--url", store_url)
    assert [e["type"] for e in events] == ["created", "wait_registered", "wait_superseded"]
    assert [e["version"] for e in events] == [1, 2, 3]
    assert events[2]["superseded_by"] == "survey-1"


def test_history_of_a_missing_key_says_so_and_exits_1(url: str, refund: str) -> None:
    status, out, err = cli("history", "no-such-key", "--url", url)
    assert (status, out) == (1, "")
    assert err.startswith("error: not_found: no session no-such-key")


def test_show_prints_the_live_session(url: str, refund: str) -> None:
    status, out, _ = cli("show", "survey-1", "--url", url)
    assert status == 0
    assert "survey-1 (now)" in out and "ask_rating" in out


def test_show_prints_the_version_and_the_wait(url: str, refund: str) -> None:
    status, out, _ = cli("show", "survey-1", "--url", url)
    assert status == 0
    assert ["version", "2"] in rows(out)
    assert ["waits", "on", "chat-42/refund", "for", "alice", "(since", "v2)"] in rows(out)


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_show_json_has_the_version_the_deadline_and_the_wait(store_url: str) -> None:
    seed(store_url)
    ctx = make_ctx(user="alice")
    later, ttl = ReplyScope(conversation="chat-43"), FAR_FUTURE - START  # the tool's clock is real
    with open_store(store_url, clock=FakeClock(START)) as store:
        store.register_wait(ctx, "alice", later, "survey-1", make_data(ctx), ttl)

    shown = cli_json("show", "survey-1", "--url", store_url)

    assert shown["session_key"] == "survey-1"
    assert shown["version"] == 3
    assert shown["expires_at"] == "2100-01-01T00:00:00Z"
    assert shown["wait"] == {
        "user_id": "alice",
        "scope": {"conversation": "chat-43"},
        "expires_at": "2100-01-01T00:00:00Z",
        "registered_version": 3,
    }
    assert shown["data"]["cursor"]["node_pointer"] == "node.wait"


def test_show_json_of_a_superseded_session_has_its_version_and_no_wait(
    url: str, refund: str
) -> None:
    shown = cli_json("show", refund, "--url", url)
    assert (shown["version"], shown["wait"], shown["expires_at"]) == (3, None, None)
    assert shown["data"]["flow_id"] == "refund"


def test_show_of_a_removed_session_says_who_ended_it_and_how_to_see_its_past(
    url: str, refund: str
) -> None:
    with open_store(url, clock=FakeClock(START + timedelta(minutes=10))) as store:
        store.remove_session(refund, ctx=make_ctx(user="ops-bob"))

    status, out, err = cli("show", refund, "--url", url)

    assert (status, out) == (1, "")
    assert err == (
        f"error: not_found: no session {refund} now: it was removed at 2025-01-01T12:10:00.000000Z "
        f"by ops-bob; see its past with `show {refund} --version N` (N from 1 to 4) "
        f"or `history {refund}`\n"
    )


def test_show_of_a_cleared_session_says_how_to_see_its_past(url: str, refund: str) -> None:
    with open_store(url, clock=FakeClock(START + timedelta(minutes=10))) as store:
        store.clear_wait(make_ctx(user="alice"), "alice", CHAT)  # survey-1 holds the scope

    status, _, err = cli("show", "survey-1", "--url", url)

    assert status == 1
    assert "its wait was cleared at 2025-01-01T12:10:00.000000Z" in err
    assert "`show survey-1 --version N` (N from 1 to 3) or `history survey-1`" in err


def test_show_of_a_session_past_its_deadline_says_when_it_expired(url: str) -> None:
    ctx = make_ctx(user="alice")
    with open_store(url, clock=FakeClock(START)) as store:
        store.register_wait(ctx, "alice", CHAT, "short", make_data(ctx), timedelta(minutes=1))

    status, _, err = cli("show", "short", "--url", url)

    assert status == 1
    assert "no session short now: it expired at 2025-01-01T12:01:00.000000Z" in err
    assert "`show short --version N` (N from 1 to 2)" in err


def test_show_version_is_the_session_right_after_that_version(url: str, refund: str) -> None:
    data = cli_json("show", refund, "--version", "1", "--url", url)
    assert (data["flow_id"], data["cursor"]["node_pointer"]) == ("refund", "start")


def test_show_at_reads_a_time_without_offset_as_utc(url: str, refund: str) -> None:
    data = cli_json("show", refund, "--at", "2025-01-01T12:02:00", "--url", url)
    assert data["cursor"]["node_pointer"] == "ask_order_number"


def test_show_of_a_missing_key_says_no_session_and_exits_1(url: str, refund: str) -> None:
    status, out, err = cli("show", "no-such-key", "--url", url)
    assert (status, out) == (1, "")
    assert err == "error: not_found: no session no-such-key\n"


def test_show_with_both_version_and_at_is_a_usage_error(url: str, refund: str) -> None:
    status, _, err = cli("show", refund, "--version", "1", "--at", "2025-01-01", "--url", url)
    assert status == 2
    assert "give --version or --at, not both" in err


def test_a_time_that_is_not_iso_8601_is_a_usage_error(url: str, refund: str) -> None:
    status, _, err = cli("show", refund, "--at", "yesterday", "--url", url)
    assert status == 2
    assert "'yesterday' is not an ISO 8601 time" in err


def test_diff_names_the_fields_that_changed(url: str, refund: str) -> None:
    status, out, _ = cli("diff", refund, "1", "2", "--url", url)
    assert status == 0
    assert f"{refund}: v1 -> v2" in out
    assert ["cursor.node_pointer", "start", "ask_order_number"] in rows(out)


def test_diff_of_a_version_the_key_never_had_is_invalid_input(url: str, refund: str) -> None:
    status, _, err = cli("diff", refund, "1", "9", "--url", url)
    assert status == 2
    assert err.startswith("error: invalid_input:") and "no version 9" in err


# -- waits and explain -------------------------------------------------------------


def test_waits_lists_the_users_waiting_sessions_with_flow_and_node(url: str, refund: str) -> None:
    status, out, _ = cli("waits", *CALLER, "--url", url)
    assert status == 0
    assert ["survey-1", "survey", "ask_rating", "-", "-"] in rows(out)
    assert refund not in out


def test_waits_json_has_the_fields_of_the_table(url: str, refund: str) -> None:
    assert cli_json("waits", *CALLER, "--url", url) == [
        {
            "session_key": "survey-1",
            "flow_id": "survey",
            "node_pointer": "ask_rating",
            "wait_reason": None,
            "expires_at": None,
            "live": True,
        }
    ]


def test_explain_shows_the_takeover_that_kept_a_reply_from_the_first_session(
    url: str, refund: str
) -> None:
    at = ("--at", "2025-01-01T12:07Z")
    status, out, _ = cli("explain", *CALLER, *CHAT_OPTIONS, *at, "--url", url)
    assert status == 0
    assert "resumes  survey-1" in out
    assert f"{refund} (v3) was superseded by survey-1" in out


def test_explain_json_before_any_wait_finds_nothing(url: str, refund: str) -> None:
    result = cli_json("explain", *CALLER, *CHAT_OPTIONS, "--at", "2025-01-01T11:00Z", "--url", url)
    assert result["session_key"] is None
    assert result["reason"].startswith("never registered")


def test_an_invalid_identifier_is_invalid_input_exit_2(url: str, refund: str) -> None:
    status, _, err = cli("waits", "--env", "dev env", "--tenant", "t", "--user", "u", "--url", url)
    assert status == 2
    assert err.startswith("error: invalid_input: EnvId")


# -- verify, rebuild, sweep ------------------------------------------------------------


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_verify_of_an_untouched_log_is_ok_and_exits_0(store_url: str) -> None:
    seed(store_url)
    status, out, _ = cli("verify", "--url", store_url)
    assert (status, out) == (0, "verify: ok (2 streams, 5 events checked)\n")


def test_verify_exits_1_and_names_an_event_deleted_from_the_log(
    db: Path, url: str, refund: str
) -> None:
    first_v2 = "SELECT min(rowid) FROM {events} WHERE originator_version = 2"
    tamper(db, f"DELETE FROM {{events}} WHERE rowid = ({first_v2})")
    status, out, _ = cli("verify", "--url", url)
    assert status == 1
    assert out.startswith("verify: ")
    assert f"  - {refund}: v2 missing (deleted)" in out.splitlines()


def test_verify_json_reports_the_problems_and_exits_1(db: Path, url: str, refund: str) -> None:
    tamper(db, "DELETE FROM gs_scope_index")
    status, out, _ = cli("verify", "--url", url, "--json")
    report = json.loads(out)
    assert status == 1
    assert report["ok"] is False and "scope index" in report["problems"][0]


def test_rebuild_repairs_a_read_model_that_verify_flagged(db: Path, url: str, refund: str) -> None:
    tamper(db, "DELETE FROM gs_scope_index")
    assert cli_json("rebuild", "--url", url) == {"rebuilt": True}
    with open_store(url) as store:
        assert store.verify().ok


def test_sweep_records_the_expiry_of_sessions_past_their_deadline(url: str) -> None:
    ctx = make_ctx(user="alice")
    with open_store(url, clock=FakeClock(START)) as store:
        store.register_wait(ctx, "alice", CHAT, "short", make_data(ctx), timedelta(minutes=1))
    assert cli_json("sweep", "--url", url) == {"expired": 1}
    with open_store(url) as store:
        assert store.history("short")[-1].type == "wait_expired"


# -- export and import --------------------------------------------------------------


def test_export_then_import_into_a_new_file_keeps_the_history(
    tmp_path: Path, url: str, refund: str
) -> None:
    dump, copy = tmp_path / "events.jsonl", f"sqlite:///{tmp_path / 'copy.db'}"
    assert cli_json("export", str(dump), "--url", url) == {"exported": 5}
    assert cli_json("import", str(dump), "--url", copy) == {"imported": 5}
    before = cli_json("history", refund, "--url", url)
    after = cli_json("history", refund, "--url", copy)
    assert [without_position(e) for e in after] == [without_position(e) for e in before]


def without_position(event: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in event.items() if name != "position"}


def exported(url: str) -> str:
    with open_store(url) as store:
        dump = io.StringIO()
        store.export_events(dump)
    return dump.getvalue()


def test_export_to_stdout_writes_json_lines_and_the_count_on_stderr(url: str, refund: str) -> None:
    status, out, err = cli("export", "-", "--url", url)
    assert (status, out, err) == (0, exported(url), "exported 5 events\n")


def test_export_of_another_tenant_writes_no_events(tmp_path: Path, url: str, refund: str) -> None:
    dump = tmp_path / "other.jsonl"
    assert cli_json("export", "--tenant", "tenant-b", str(dump), "--url", url) == {"exported": 0}
    assert dump.read_text() == ""


def test_import_reads_stdin_for_a_dash(tmp_path: Path, url: str, refund: str) -> None:
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    status, out, _ = cli("import", "-", "--url", copy, stdin=exported(url))
    assert (status, out) == (0, "imported 5 events from <stdin>\n")


def test_import_into_a_store_that_has_events_is_a_conflict(url: str, refund: str) -> None:
    status, _, err = cli("import", "-", "--url", url, stdin=exported(url))
    assert status == 1
    assert err.startswith("error: conflict: import needs an empty store")


def test_importing_a_file_that_is_not_text_is_invalid_input(tmp_path: Path, url: str) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\xf8\xff not an export\n")
    status, _, err = cli("import", str(junk), "--url", url)
    assert status == 2
    assert err.startswith("error: invalid_input: ") and "not an export" in err


# -- progress bars -------------------------------------------------------------------


def long_commands(tmp_path: Path, url: str) -> dict[str, tuple[str, ...]]:
    """Each long command, with the word its bar shows."""
    dump = tmp_path / "events.jsonl"
    dump.write_text(exported(url))
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    return {
        "verifying": ("verify", "--url", url),
        "rebuilding": ("rebuild", "--url", url),
        "sweeping": ("sweep", "--url", url),
        "exporting": ("export", str(tmp_path / "out.jsonl"), "--url", url),
        "importing": ("import", str(dump), "--url", copy),
    }


@pytest.mark.parametrize("bar", ["verifying", "rebuilding", "sweeping", "exporting", "importing"])
def test_a_long_command_shows_a_progress_bar_with_its_rate_on_a_terminal(
    tmp_path: Path, url: str, refund: str, bar: str
) -> None:
    status, output = run_on_a_terminal(*long_commands(tmp_path, url)[bar])

    assert status == 0, output
    assert bar in output and "events/s" in output, output
    assert "\x1b[" in output  # drawn with terminal control codes


@pytest.mark.parametrize("bar", ["verifying", "rebuilding", "sweeping", "exporting", "importing"])
def test_a_long_command_with_json_shows_no_bar_on_a_terminal(
    tmp_path: Path, url: str, refund: str, bar: str
) -> None:
    status, output = run_on_a_terminal(*long_commands(tmp_path, url)[bar], "--json")

    assert status == 0, output
    assert bar not in output
    json.loads(output)


@pytest.mark.parametrize("bar", ["verifying", "rebuilding", "sweeping", "exporting", "importing"])
def test_a_long_command_in_a_pipe_prints_only_its_result(
    tmp_path: Path, url: str, refund: str, bar: str
) -> None:
    status, out, err = cli(*long_commands(tmp_path, url)[bar])

    assert (status, err) == (0, "")
    assert bar not in out and "\x1b" not in out
    assert len(out.splitlines()) == 1


# -- failures ------------------------------------------------------------------------


def test_an_unreachable_database_is_one_error_line_and_exit_1() -> None:
    status, out, err = cli("history", "any-key", "--url", UNREACHABLE)
    assert (status, out) == (1, "")
    assert err.startswith("error: unavailable: cannot reach PostgreSQL at 127.0.0.1:1")
    assert len(err.splitlines()) == 1


def test_reading_a_log_with_a_deleted_event_is_one_error_line(
    db: Path, url: str, refund: str
) -> None:
    tamper(db, "DELETE FROM {events} WHERE rowid = 2")
    status, out, err = cli("history", refund, "--url", url)
    assert (status, out) == (1, "")
    assert err.startswith("error: ") and len(err.splitlines()) == 1


def test_setup_creates_the_tables_of_a_sqlite_store(db: Path, url: str) -> None:
    result = run_console_script("setup", "--url", url)
    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(db)) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"stored_events", "gs_session_state", "gs_scope_index", "gs_user_waits"} <= tables


def test_setup_grants_only_on_postgresql(url: str) -> None:
    result = run_console_script("setup", "--url", url, "--grant-to", "app")
    assert result.returncode == 2
    assert "SQLite has no roles" in result.stderr


def test_keygen_prints_a_key_an_encrypted_store_accepts(tmp_path: Path) -> None:
    result = run_console_script("keygen")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key != run_console_script("keygen").stdout.strip()
    with open_store(f"sqlite:///{tmp_path / 'sealed.db'}", encryption_key=key) as store:
        ctx = make_ctx(user="alice")
        session = store.create_session(ctx, make_data(ctx))
        assert store.get_session(session) == make_data(ctx)


def test_the_tool_reads_an_encrypted_store_with_the_key_from_the_environment(
    tmp_path: Path,
) -> None:
    key = run_console_script("keygen").stdout.strip()
    url = f"sqlite:///{tmp_path / 'sealed.db'}"
    with open_store(url, encryption_key=key) as store:
        ctx = make_ctx(user="alice")
        session = store.create_session(ctx, make_data(ctx, node="sealed-node"))
    without = run_console_script("show", session, "--url", url)
    assert without.returncode == 1
    assert "this store is encrypted" in without.stderr
    script_env = {"GREENTIC_SESSION_ENCRYPTION_KEY": key}
    with_key = run_console_script("show", session, "--url", url, env=script_env)
    assert with_key.returncode == 0, with_key.stderr
    assert "sealed-node" in with_key.stdout
