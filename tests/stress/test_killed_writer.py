"""A writer process is killed with SIGKILL at random moments, many times over one
database (SQLite, PostgreSQL). After each kill the store reopens, verifies clean, holds
every acknowledged write, holds no operation in part, and takes writes again.

`GREENTIC_SESSION_CRASH_RUNS` (kills per backend, default 20) makes the run longer;
`GREENTIC_SESSION_STRESS_SEED` replays a failed run's operation sequences.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

import pytest

from greentic_session import open_store
from tests.conftest import PERSISTENT_BACKENDS
from tests.stress.accounting import account, read_log, store_checks
from tests.stress.contract_checks import ALLOWED_FAILURES
from tests.stress.processes import (
    check,
    reaped,
    run_seed,
    spawn,
    tail,
    wait_for,
    wait_until_disconnected,
)
from tests.stress.worker import (
    CRASH_MIX,
    OK,
    REGISTER,
    SCOPES,
    UPDATE,
    Driver,
    OpRecord,
    make_trace,
    owner_ctx,
    owner_user,
    session_data,
)

pytestmark = pytest.mark.stress

CRASH_RUNS = int(os.environ.get("GREENTIC_SESSION_CRASH_RUNS") or 20)
MAX_KILL_DELAY = 0.4  # seconds after the writer's first acknowledged operation


def has_acknowledged(acks: Path) -> bool:
    return acks.exists() and '"outcome"' in acks.read_text(encoding="utf-8")


@dataclass
class AckFile:
    records: list[OpRecord]
    under_way: str | None  # the trace id of the operation it was running when killed


def read_acks(path: Path) -> AckFile:
    """Complete lines only: a line the kill cut short was never acknowledged."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    records: list[OpRecord] = []
    under_way = None
    for line in text.split("\n")[:-1]:
        entry = json.loads(line)
        if "begin" in entry:
            under_way = entry["begin"]
        else:
            records.append(cast(OpRecord, entry))
            assert entry["trace"] == under_way, (entry, under_way)
            under_way = None
    return AckFile(records, under_way)


@pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)
def test_a_writer_killed_at_random_moments_leaves_no_partial_operation(
    store_url: str, backend: str, tmp_path: Path
) -> None:
    seed = run_seed()
    rng = random.Random(f"{seed}:kills")
    print(f"seed {seed}: {CRASH_RUNS} kills on {backend}")
    with open_store(store_url):
        pass
    ops: dict[str, OpRecord] = {}
    unknown: list[str] = []
    landed_runs = 0
    for run in range(CRASH_RUNS):
        acks, log = tmp_path / f"acks-{run}.jsonl", tmp_path / f"writer-{run}.log"
        app = f"gs-crash-{os.getpid()}-{run}"
        with log.open("w", encoding="utf-8") as log_file:
            writer = spawn(
                ["crash", store_url, seed, str(run), str(acks)], log_file, {"PGAPPNAME": app}
            )
            with reaped([writer]):
                wait_for(
                    partial(has_acknowledged, acks),
                    "waiting for the writer's first write",
                    [writer],
                    [log],
                )
                time.sleep(rng.uniform(0, MAX_KILL_DELAY))
                assert writer.poll() is None, f"the writer stopped by itself:\n{tail(log)}"
                writer.send_signal(signal.SIGKILL)
                assert writer.wait(timeout=60) == -signal.SIGKILL
        if backend == "postgres":
            wait_until_disconnected(app)
        written = read_acks(acks)
        ops |= {record["trace"]: record for record in written.records}
        if written.under_way is not None:
            unknown.append(written.under_way)
        what = f"after kill {run + 1} of {CRASH_RUNS} ({len(written.records)} operations)"
        check(
            [
                f"{op['trace']}: {op['outcome']}: {op['error']}"
                for op in written.records
                if op["outcome"] != OK and op["outcome"] not in ALLOWED_FAILURES[op["kind"]]
            ],
            seed,
            f"{what}: operations failed with codes the contract does not allow them",
        )

        with open_store(store_url) as store:
            check(store_checks(store), seed, f"{what}: the reopened store")
            accounting = account(read_log(store), ops, unknown)
            check(accounting.problems, seed, f"{what}: the log against the acknowledged writes")
            if written.under_way is not None and accounting.landed.get(written.under_way):
                landed_runs += 1
            # The store takes writes again: a takeover between two sessions, an update.
            driver = Driver(store, f"p{run}", CRASH_MIX)
            first, second = CRASH_MIX.keys[0][0], CRASH_MIX.keys[2][0]  # both of owner 0
            after = [
                driver.perform(0, REGISTER, first, 0, 0),
                driver.perform(1, REGISTER, second, 0, 0),
                driver.perform(2, UPDATE, second, 0, None),
            ]
            assert [op["outcome"] for op in after] == [OK, OK, OK], after
            ops |= {op["trace"]: op for op in after}
            assert store.find_wait_by_scope(owner_ctx(0), owner_user(0), SCOPES[0]) == second
            update_trace = make_trace(f"p{run}", 2, UPDATE, 0, second)
            assert store.get_session(second) == session_data(owner_ctx(0, update_trace), 2)
    with open_store(store_url) as store:  # the next run checked the writes after each reopen
        check(store_checks(store), seed, "the store after every kill")
        logged = read_log(store)
        accounting = account(logged, ops, unknown)
        check(accounting.problems, seed, "the log after every kill")
    print(
        f"{len(logged)} events {dict(Counter(e.type for e in logged))}; {len(ops)} operations "
        f"recorded; {len(unknown)} killed under way, {landed_runs} of them committed; "
        f"primary events (acknowledged, logged): {accounting.counts}"
    )
