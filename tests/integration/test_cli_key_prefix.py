"""Short keys: a unique prefix of 8 characters or more stands for a session key in every
command that takes one; an ambiguous one names the candidates."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from greentic_session import open_store
from greentic_session.adapters.storage.postgres import tables_in
from greentic_session.adapters.storage.sql_tables import HEADS_KEY_INDEX
from greentic_session.adapters.storage.sqlite import sqlite_tables
from tests.conftest import PERSISTENT_BACKENDS
from tests.support import make_ctx, make_data, make_scope, run_console_script

CTX = make_ctx(user="alice")


def seed(url: str, keys: list[str]) -> None:
    with open_store(url) as store:
        for n, key in enumerate(keys):
            store.register_wait(CTX, "alice", make_scope(f"chat-{n}"), key, make_data(CTX))
            store.update_session(key, make_data(CTX, node=f"node-{n}"))


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_a_unique_prefix_of_8_characters_resolves_in_history_show_and_diff(
    store_url: str,
) -> None:
    seed(store_url, ["0123456789abcdef", "01234567zzzz"])
    for command in (["history"], ["show"], ["diff", "1", "2"]):
        done = run_console_script(command[0], "012345678", *command[1:], "--url", store_url)
        assert done.returncode == 0, (command, done.stderr)
        assert "0123456789abcdef" in done.stdout
        assert "01234567zzzz" not in done.stdout


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS)
def test_an_ambiguous_prefix_names_the_candidates(store_url: str) -> None:
    seed(store_url, ["0123456789abcdef", "01234567zzzz"])
    done = run_console_script("show", "01234567", "--url", store_url, "--json")
    assert done.returncode == 2
    error = json.loads(done.stderr)["error"]
    assert error["code"] == "invalid_input"
    assert "0123456789abcdef" in error["message"] and "01234567zzzz" in error["message"]


def test_a_prefix_shorter_than_8_characters_does_not_resolve(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    seed(url, ["0123456789abcdef"])
    done = run_console_script("show", "0123456", "--url", url)
    assert (done.returncode, done.stderr) == (1, "error: not_found: no session 0123456\n")


def test_a_whole_key_wins_over_the_longer_keys_it_begins(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    seed(url, ["survey-12", "survey-123"])
    done = run_console_script("history", "survey-12", "--url", url, "--json")
    assert done.returncode == 0, done.stderr
    assert {event["session_key"] for event in json.loads(done.stdout)} == {"survey-12"}


def test_the_prefix_lookup_on_sqlite_is_a_search_of_the_heads_key_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    seed(url, ["0123456789abcdef"])
    statement = sqlite_tables().select_keys[True, True]
    with closing(sqlite3.connect(tmp_path / "store.db")) as connection:
        params = ("a", "b", "a", "b", 3)
        plan = connection.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
    assert any(HEADS_KEY_INDEX in row[-1] and "SEARCH" in row[-1] for row in plan), plan


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_prefix_lookup_on_postgres_can_use_the_heads_key_index(
    pg_dsn: str, store_url: str
) -> None:
    seed(store_url, ["0123456789abcdef"])
    schema = parse_qs(urlsplit(store_url).query)["schema"][0]
    statement = tables_in(schema, f'"{schema}".events').select_keys[True, True]
    with psycopg.connect(pg_dsn) as connection:
        connection.execute("SET enable_seqscan = off")
        params = ("a", "b", "a", "b", 3)
        plan = connection.execute(f"EXPLAIN {statement}", params).fetchall()
    assert any(HEADS_KEY_INDEX in row[0] for row in plan), plan


def test_the_short_keys_the_demo_prints_are_taken_by_the_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "greentic_session", "demo", "--url", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shown = set(re.findall(r"session ([0-9a-f]{8}) waits", done.stdout))
    assert len(shown) == 2
    for key in shown:
        history = run_console_script("history", key, "--url", url)
        assert history.returncode == 0, history.stderr
        assert history.stdout.startswith(f"history of {key}")


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_setup_adds_the_key_index_to_a_schema_set_up_before_it_existed(
    pg_dsn: str, store_url: str
) -> None:
    seed(store_url, ["0123456789abcdef"])
    schema = parse_qs(urlsplit(store_url).query)["schema"][0]
    index = f'"{schema}"."{HEADS_KEY_INDEX}"'
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        connection.execute(f"DROP INDEX {index}")
    done = run_console_script("setup", "--url", store_url)
    assert done.returncode == 0, done.stderr
    assert HEADS_KEY_INDEX in done.stdout
    with psycopg.connect(pg_dsn) as connection:
        (found,) = connection.execute("SELECT to_regclass(%s)::text", (index,)).fetchone() or (
            None,
        )
    assert found is not None
    assert run_console_script("history", "01234567", "--url", store_url).returncode == 0
