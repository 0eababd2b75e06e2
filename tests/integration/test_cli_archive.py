"""`greentic-session archive`: FILE refused if it exists, `--ended-before` and `--keep`,
`--json`; the archive then verifies and imports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greentic_session import ReplyScope, open_store
from tests.support import FakeClock, make_ctx, make_data, run_console_script

CTX = make_ctx(user="alice")
START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)  # long ago: `--keep 90d` reaches it


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A store with one session removed at START and one live."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with open_store(url, clock=FakeClock(START)) as store:
        store.register_wait(CTX, "alice", ReplyScope(conversation="c1"), "gone", make_data(CTX))
        store.remove_session("gone")
        store.register_wait(CTX, "alice", ReplyScope(conversation="c2"), "live", make_data(CTX))
    return url


def test_archive_keep_moves_sessions_ended_longer_ago(url: str, tmp_path: Path) -> None:
    file = tmp_path / "archive.jsonl"
    done = run_console_script("archive", "--url", url, "--keep", "90d", str(file), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["streams"], report["events"]) == (1, 3)
    assert json.loads(file.read_text().splitlines()[-1])["archive"]["digest"] == report["digest"]
    verified = run_console_script("verify", "--url", url)
    assert verified.returncode == 0 and "1 streams archived" in verified.stdout


def test_archive_ended_before_a_time_before_the_end_moves_nothing(url: str, tmp_path: Path) -> None:
    before = (START - timedelta(days=1)).isoformat()
    file = tmp_path / "archive.jsonl"
    done = run_console_script("archive", "--url", url, "--ended-before", before, str(file))
    assert done.returncode == 0, done.stderr
    assert "archived 0 streams" in done.stdout


def test_archive_refuses_an_existing_file_without_force(url: str, tmp_path: Path) -> None:
    file = tmp_path / "archive.jsonl"
    file.write_text("keep me")
    done = run_console_script("archive", "--url", url, "--keep", "1d", str(file))
    assert done.returncode != 0 and "--force" in done.stderr
    assert file.read_text() == "keep me"
    forced = run_console_script("archive", "--url", url, "--keep", "1d", "--force", str(file))
    assert forced.returncode == 0, forced.stderr


def test_an_archive_from_the_cli_imports_into_an_empty_store(url: str, tmp_path: Path) -> None:
    file = tmp_path / "archive.jsonl"
    assert run_console_script("archive", "--url", url, "--keep", "90d", str(file)).returncode == 0
    empty = f"sqlite:///{tmp_path / 'copy.db'}"
    done = run_console_script("import", "--url", empty, str(file))
    assert done.returncode == 0, done.stderr
    assert run_console_script("verify", "--url", empty).returncode == 0


def test_archive_needs_one_of_ended_before_and_keep(url: str, tmp_path: Path) -> None:
    done = run_console_script("archive", "--url", url, str(tmp_path / "a.jsonl"))
    assert done.returncode != 0 and "--keep" in done.stderr
