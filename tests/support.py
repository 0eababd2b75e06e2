"""Builders and test doubles shared by the test modules (no fixtures here; see conftest.py)."""

from __future__ import annotations

import os
import pty
import subprocess
import sysconfig
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greentic_session import (
    ErrorCode,
    ReplyScope,
    SessionCursor,
    SessionData,
    SessionError,
    TenantCtx,
)

# Fixed, so runs are reproducible; far from the real clock, so a store that mixes the real
# clock into expiry decisions fails the TTL tests.
CLOCK_START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand; pass it as `open_store(url, clock=...)`."""

    def __init__(self, start: datetime = CLOCK_START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def make_ctx(
    env: str = "dev",
    tenant: str = "tenant-a",
    team: str | None = None,
    user: str | None = None,
) -> TenantCtx:
    """A caller context built the way runtimes do: `new`, then `with_team`/`with_user`."""
    ctx = TenantCtx.new(env, tenant)
    if team is not None:
        ctx = ctx.with_team(team)
    if user is not None:
        ctx = ctx.with_user(user)
    return ctx


def make_data(
    ctx: TenantCtx,
    node: str = "node.wait",
    context_json: str = "{}",
    flow: str = "flow-alpha",
) -> SessionData:
    return SessionData(
        tenant_ctx=ctx,
        flow_id=flow,
        cursor=SessionCursor(node_pointer=node),
        context_json=context_json,
    )


def make_scope(conversation: str, thread: str | None = None) -> ReplyScope:
    return ReplyScope(conversation=conversation, thread=thread)


def run_together(calls: Sequence[Callable[[], object]]) -> list[BaseException]:
    """Starts every call at once, one thread each, and returns what they raised."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@contextmanager
def raises_code(code: ErrorCode, message: str | None = None) -> Iterator[None]:
    """The block raises a `SessionError` with this code (and, if given, exactly this message)."""
    with pytest.raises(SessionError) as error:
        yield
    assert error.value.code is code, error.value
    if message is not None:
        assert error.value.message == message


# Variables that would change what the command-line tool prints or where it looks.
_CLI_VARIABLES = (
    "GREENTIC_SESSION_URL",
    "GREENTIC_SESSION_ENCRYPTION_KEY",
    "GREENTIC_SESSION_MAX_CONTEXT_BYTES",
    "FORCE_COLOR",
    "NO_COLOR",
    "COLUMNS",
    "TERM",
)


def run_console_script(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`greentic-session` as installed in this environment, in a process of its own, as a
    user runs it from a shell; stdout is a pipe, so its output is plain text. `env`: the
    variables the user sets on top of a clean environment."""
    script = Path(sysconfig.get_path("scripts")) / "greentic-session"
    clean = {name: value for name, value in os.environ.items() if name not in _CLI_VARIABLES}
    env = {**clean, **(env or {})}
    return subprocess.run(
        [str(script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def run_on_a_terminal(*args: str) -> tuple[int, str]:
    """`greentic-session` with stdin, stdout and stderr on a pseudo-terminal, as in an
    interactive shell (an 80-column xterm); its exit status and everything it wrote."""
    script = Path(sysconfig.get_path("scripts")) / "greentic-session"
    clean = {name: value for name, value in os.environ.items() if name not in _CLI_VARIABLES}
    main, secondary = pty.openpty()
    with subprocess.Popen(
        [str(script), *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**clean, "TERM": "xterm", "COLUMNS": "80"},
    ) as process:
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            output += chunk
        os.close(main)
        status = process.wait(timeout=120)
    return status, output.decode("utf-8", errors="replace")
