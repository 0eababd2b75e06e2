"""The command-line tool fed hostile arguments, options and URLs: exit 0, 1 or 2, one
error line, no traceback, the store left consistent."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from greentic_session import open_store
from greentic_session.adapters.bootstrap.urls import MAX_CONTEXT_VARIABLE, URL_VARIABLE
from greentic_session.adapters.cli.main import main as cli_main
from tests.hostile import CTX, consistent, inside, store_url_is_safe, store_urls, within
from tests.strategies import hostile_text
from tests.support import FakeClock, make_data, make_scope, run_console_script

START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)  # in the past: the tool reads the real clock
CLI_SCOPE = make_scope("chat-42", "refund")
CALLER = ["--env", "dev", "--tenant", "tenant-a", "--user", "alice"]


@pytest.fixture
def seeded(tmp_path: Path) -> str:
    """A SQLite store outside the sandbox (no fuzzed path reaches it) with a few sessions."""
    folder = tmp_path / "db"
    folder.mkdir()
    url = f"sqlite:///{folder / 'store.db'}"
    clock = FakeClock(START)
    with open_store(url, clock=clock) as store:
        refund = store.create_session(CTX, make_data(CTX, flow="refund"))
        store.register_wait(CTX, "alice", CLI_SCOPE, refund, make_data(CTX, flow="refund"))
        clock.advance(timedelta(minutes=5))
        store.register_wait(
            CTX, "alice", CLI_SCOPE, "survey-1", make_data(CTX), ttl=timedelta(minutes=30)
        )
    return url


def invoke(*args: str, stdin: str = "") -> Result:
    runner = CliRunner(
        env={
            URL_VARIABLE: None,
            "GREENTIC_SESSION_ENCRYPTION_KEY": None,
            MAX_CONTEXT_VARIABLE: None,
        }
    )
    with within():
        return runner.invoke(cli_main, list(args), input=stdin)


def assert_clean_exit(result: Result) -> None:
    """0, 1 or 2; never a traceback or an unexpected exception; a store error is one line."""
    shown = (result.exit_code, result.stdout[-500:], result.stderr[-500:])
    assert result.exit_code in (0, 1, 2), shown
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exc_info,
        shown,
    )
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert "error: internal" not in result.stderr, shown
    if result.stderr.startswith("error:"):
        assert result.stderr.count("\n") == 1, shown
    if result.exit_code == 0:
        assert not result.stderr.startswith(("error:", "Error:", "Usage:")), shown


CLI_TEXT = hostile_text()
CLI_COMMANDS = [
    "history",
    "show",
    "diff",
    "waits",
    "explain",
    "verify",
    "rebuild",
    "sweep",
    "export",
    "import",
    "demo",
]


CLI_VALID: dict[str, st.SearchStrategy[str]] = {
    "key": st.sampled_from(["survey-1", "missing"]),
    "version": st.integers(1, 3).map(str),
    "v1": st.integers(1, 3).map(str),
    "v2": st.integers(1, 3).map(str),
    "--at": st.datetimes(
        min_value=datetime(2024, 12, 31), max_value=datetime(2025, 1, 2), timezones=st.just(UTC)
    ).map(datetime.isoformat),
    "--env": st.just("dev"),
    "--tenant": st.sampled_from(["tenant-a", "tenant-b"]),
    "--user": st.sampled_from(["alice", "bob"]),
    "--team": st.just("support"),
    "--conversation": st.just("chat-42"),
    "--thread": st.just("refund"),
    "--reply-to": st.just("msg-1"),
    "--correlation": st.just("cid-1"),
    "file": st.sampled_from(["-", "out.jsonl", "../../x.jsonl"]),
}
"""Plausible values of each argument and option; one of them at a time is made hostile."""
CLI_HOSTILE: dict[str, st.SearchStrategy[str]] = {
    "--at": st.one_of(
        CLI_TEXT, st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
    ),
    "version": st.one_of(CLI_TEXT, st.integers().map(str)),
    "v1": st.one_of(CLI_TEXT, st.integers().map(str)),
    "v2": st.one_of(CLI_TEXT, st.integers().map(str)),
}
CALLER_FIELDS = ["--env", "--tenant", "--team?", "--user"]
CLI_FIELDS = {
    "history": ["key"],
    "show": ["key", "version?", "--at?"],
    "diff": ["key", "v1", "v2"],
    "waits": CALLER_FIELDS,
    "explain": [
        *CALLER_FIELDS,
        "--conversation",
        "--thread?",
        "--reply-to?",
        "--correlation?",
        "--at?",
    ],
    "export": ["--tenant?", "file"],
    "import": ["file"],
    "verify": [],
    "rebuild": [],
    "sweep": [],
    "demo": [],
}
"""Each command's arguments and options in order; `?` marks the optional ones."""


@st.composite
def cli_arguments(draw: st.DrawFn, seeded: str, sandbox: Path) -> tuple[list[str], str]:
    """One command of the tool: one argument, option or the store URL hostile (or none),
    the others plausible, against the seeded store."""
    command = draw(st.sampled_from(sorted(CLI_FIELDS)))
    fields = [field.rstrip("?") for field in CLI_FIELDS[command]]
    target = draw(st.sampled_from([None, "--url", *fields]))
    args = [command]
    for field in CLI_FIELDS[command]:
        name = field.rstrip("?")
        if field.endswith("?") and name != target and draw(st.booleans()):
            continue
        hostile = CLI_HOSTILE.get(name, CLI_TEXT)
        value = draw(hostile if name == target else CLI_VALID[name])
        if name == "version":
            args += ["--version", value]
        elif name.startswith("--"):
            args += [name, value]
        else:
            args.append(value)
    if command == "show" and "--version" in args and "--at" in args and target is None:
        args = args[: args.index("--at")]  # both at once is a usage error: keep them apart
    if target == "--url":
        url = draw(store_urls(sandbox))
        url = "memory://" if command == "demo" and url.startswith("sqlite:") else url
    else:
        url = "memory://" if command in ("demo", "import") else seeded
    args += ["--url", url]
    if command != "demo" and draw(st.booleans()):
        args.append("--json")
    return args, url


def cli_is_safe(args: list[str], url: str, seeded: str, sandbox: Path) -> bool:
    """Files the tool may write or read stay in the sandbox (or are the seeded store)."""
    if url != seeded and not store_url_is_safe(sandbox, url):
        return False
    if args[0] in ("export", "import"):
        operands = [a for a in args[1:] if not a.startswith("-") or a == "-"]
        return all(a == "-" or inside(sandbox, a) for a in operands)
    return True


def test_cli_fed_hostile_arguments_exits_0_1_or_2_without_a_traceback(
    seeded: str, sandbox: Path
) -> None:
    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(command=cli_arguments(seeded, sandbox), stdin=st.sampled_from(["", "garbage\n"]))
    def check(command: tuple[list[str], str], stdin: str) -> None:
        args, url = command
        assume(cli_is_safe(args, url, seeded, sandbox))
        assert_clean_exit(invoke(*args, stdin=stdin))

    check()
    with open_store(seeded) as store:
        consistent(store)


@pytest.mark.parametrize("name", ["", "a\x00b", "\ud800", "out\udfff.jsonl"])
def test_cli_refuses_a_file_name_no_file_can_have_as_a_usage_error(
    seeded: str, sandbox: Path, name: str
) -> None:
    for command in ("export", "import"):
        result = invoke(command, name, "--url", seeded)
        assert_clean_exit(result)
        assert result.exit_code == 2, result.stderr
    assert not [p for p in sandbox.rglob("*") if p.is_file()]  # no half-written export


@pytest.mark.parametrize(
    "at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-01:00"]
)
def test_cli_time_outside_the_utc_range_is_a_usage_error(seeded: str, at: str) -> None:
    for args in (
        ["show", "survey-1", "--at", at],
        ["explain", *CALLER, "--conversation", "chat-42", "--at", at],
    ):
        result = invoke(*args, "--url", seeded)
        assert_clean_exit(result)
        assert result.exit_code == 2 and "outside the years 1 to 9999" in result.stderr


def test_cli_export_to_a_device_writes_through_it_instead_of_replacing_it(
    seeded: str, tmp_path: Path
) -> None:
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
    except PermissionError:
        pytest.skip("making a device file needs root")
    result = invoke("export", str(device), "--url", seeded)
    assert_clean_exit(result)
    assert result.exit_code == 0
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".__atomic")] == []


def test_cli_import_of_a_file_that_cannot_be_read_is_a_file_error() -> None:
    result = invoke("import", "/proc/self/mem", "--url", "memory://")  # EIO on read
    assert_clean_exit(result)
    assert result.exit_code == 1 and "/proc/self/mem" in result.stderr


def test_console_script_with_undecodable_arguments_prints_one_error_line(
    seeded: str, tmp_path: Path
) -> None:
    """Bytes that are not UTF-8 reach the tool as lone surrogates (surrogateescape)."""
    done = run_console_script("history", "key-\udcff", "--url", seeded)
    assert done.returncode == 2
    assert done.stderr.startswith("error: invalid_input:") and done.stderr.count("\n") == 1
    exported = tmp_path / "export-\udcff.jsonl"  # a legal file name: byte 0xff
    done = run_console_script("export", str(exported), "--url", seeded)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and exported.exists()


def test_console_script_with_sql_and_path_tricks_finds_nothing(seeded: str) -> None:
    for trick in ("'; DROP TABLE gs_session_state; --", "../../etc/passwd"):
        done = run_console_script("show", trick, "--url", seeded)
        assert (done.returncode, done.stderr) == (1, f"error: not_found: no session {trick}\n")
    with open_store(seeded) as store:
        consistent(store)
