"""The README's "run it" command: the scripted chat runs and shows every kind of event."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from greentic_session import open_store
from greentic_session.adapters.bootstrap.urls import URL_VARIABLE
from greentic_session.adapters.cli.demo import run_demo
from tests.support import make_ctx, make_data

ROOT = Path(__file__).resolve().parents[2]
DEMO_EVENT_KINDS = [
    "created",
    "wait_registered",
    "wait_superseded",
    "wait_expired",
    "wait_cleared",
    "removed",
]


def test_the_demo_routes_supersedes_expires_and_finishes() -> None:
    lines: list[str] = []
    run_demo("memory://", lines.append)
    output = "\n".join(lines)
    assert "routed to session" in output
    assert "supersedes the refund wait" in output
    assert "a late update is refused (not_found)" in output
    summary = next(line for line in lines if line.startswith("the log holds"))
    for kind in DEMO_EVENT_KINDS:
        assert kind in summary


def test_the_demo_command_runs_on_a_sqlite_file(tmp_path: Path) -> None:
    done = run_cli("demo", "--url", f"sqlite:///{tmp_path / 'demo.db'}")
    assert done.returncode == 0, done.stderr
    assert "the log holds" in done.stdout


def test_the_demo_command_reports_an_unreachable_database_without_a_traceback() -> None:
    done = run_cli("demo", "--url", "postgresql://postgres@127.0.0.1:1/test")
    assert done.returncode == 1
    assert "unavailable" in done.stderr and "Traceback" not in done.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line tool in a process of its own, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "greentic_session", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_demo_never_records_an_event_later_than_the_real_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    run_demo(url, lambda line: None)
    finished = datetime.now(UTC)
    with open_store(url) as store:
        recorded = [event.timestamp for event in store.events()]
    assert len(recorded) == 11
    assert max(recorded) <= finished


def test_the_demo_without_url_writes_a_new_file_it_names_never_the_users_store(
    tmp_path: Path,
) -> None:
    users = tmp_path / "mine.db"
    env = {**os.environ, URL_VARIABLE: f"sqlite:///{users}"}
    done = subprocess.run(
        [sys.executable, "-m", "greentic_session", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not users.exists()
    (made,) = tmp_path.glob("greentic-session-demo-*.db")
    assert done.stdout.splitlines()[0] == f"store: sqlite:///{made.name}"


def test_the_demo_refuses_a_store_that_already_holds_sessions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mine.db'}"
    ctx = make_ctx(user="alice")
    with open_store(url) as store:
        store.create_session(ctx, make_data(ctx))
    done = run_cli("demo", "--url", url)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: conflict: {url} already holds sessions")
    with open_store(url) as store:
        assert len(list(store.events())) == 1
