"""The stress runs' worker processes (`tests/stress/worker.py`): started, waited for and
reaped; and the seed that makes a run reproducible."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import psycopg
import pytest

from tests.conftest import PG_DSN

ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT = 600.0


def run_seed() -> str:
    return os.environ.get("GREENTIC_SESSION_STRESS_SEED") or secrets.token_hex(4)


def check(problems: list[str], seed: str, what: str) -> None:
    if not problems:
        return
    shown = "\n  - ".join(problems[:40])
    more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
    pytest.fail(
        f"{what}: {len(problems)} problems (seed {seed}; replay the operation sequences with "
        f"GREENTIC_SESSION_STRESS_SEED={seed})\n  - {shown}{more}",
        pytrace=False,
    )


def spawn(
    args: list[str], log: IO[str], env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.stress.worker", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextmanager
def reaped(processes: list[subprocess.Popen[str]]) -> Iterator[None]:
    """Kill whatever is still running when the block ends, failed or not."""
    try:
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


def wait_for(
    condition: Callable[[], bool],
    what: str,
    processes: list[subprocess.Popen[str]],
    logs: list[Path],
) -> None:
    """Poll `condition()` until it holds; fail at once if a worker died meanwhile."""
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while not condition():
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                pytest.fail(f"{what}: a worker exited ({process.returncode}):\n{tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: timed out")
        time.sleep(0.005)


def tail(path: Path, size: int = 4000) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return text[-size:]


def wait_until_disconnected(application_name: str) -> None:
    """A killed client's server backend may outlive it for a moment (and may still commit
    what it was sent): wait until the server has let it go, so the checks see a still log."""
    deadline = time.monotonic() + 60
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (application_name,),
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the server kept the killed writer's connection ({application_name})")
            time.sleep(0.02)
