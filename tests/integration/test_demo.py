"""The README's "run it" command: the scripted chat runs and shows every kind of event."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from greentic_session.adapters.cli.demo import run_demo

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
