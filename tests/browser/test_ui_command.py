"""`greentic-session ui` as a user runs it: it refuses what it must before serving, says
where it serves (as JSON with --json), and serves the store read-only until stopped."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from greentic_session import open_store
from tests.browser.web import need
from tests.support import make_ctx, make_data, run_console_script

need("starlette", "jinja2", "uvicorn")

SCRIPT = Path(sysconfig.get_path("scripts")) / "greentic-session"


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    ctx = make_ctx(user="alice")
    with open_store(url) as store:
        store.create_session(ctx, make_data(ctx))
    return url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def serving(url: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`ui --json --token T` on a free port: its address, read from its first line."""
    process = subprocess.Popen(
        [str(SCRIPT), "ui", "--url", url, "--port", str(free_port()), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": "/usr/bin:/bin", "GREENTIC_SESSION_UI_TOKEN": "t0ken"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else ""
        yield json.loads(line)["url"], process
    finally:
        process.terminate()
        process.wait(timeout=30)


def get(address: str, token: str | None = None) -> int:
    request = urllib.request.Request(address)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for _ in range(100):  # the first line comes just before uvicorn listens
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status: int = answer.status
                return status
        except urllib.error.HTTPError as refused:
            return refused.code
        except urllib.error.URLError:
            import time

            time.sleep(0.1)
    raise AssertionError(f"nothing answers at {address}")


def test_ui_with_json_prints_its_address_and_serves_with_the_token_of_the_environment(
    serving: tuple[str, subprocess.Popen[str]],
) -> None:
    address, _ = serving
    assert address.startswith("http://127.0.0.1:")
    assert get(address + "verify") == 401
    assert get(address + "verify", token="t0ken") == 200


def test_ui_off_the_loopback_address_without_a_token_exits_2_and_says_why(url: str) -> None:
    done = run_console_script("ui", "--url", url, "--host", "0.0.0.0")
    assert done.returncode == 2
    assert done.stderr.startswith("error: invalid_input: serving on 0.0.0.0 lets other")
    assert "--token" in done.stderr and "Traceback" not in done.stderr


def test_ui_on_a_missing_store_is_not_found_and_creates_nothing(tmp_path: Path) -> None:
    done = run_console_script("ui", "--url", f"sqlite:///{tmp_path / 'typo.db'}")
    assert done.returncode == 1
    assert done.stderr.startswith("error: not_found: no store at ")
    assert list(tmp_path.iterdir()) == []


def test_ui_without_the_extra_says_how_to_install_it(url: str) -> None:
    blocked = "import sys; sys.modules.update(starlette=None, uvicorn=None, jinja2=None)"
    run = f"{blocked}; from greentic_session.adapters.cli.main import main; main()"
    done = subprocess.run([sys.executable, "-c", run, "ui", "--url", url],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: not_found: the web app needs the ui extra")
    assert "pip install 'greentic-session[ui]'" in done.stderr
