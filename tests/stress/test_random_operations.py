"""Four worker processes each run random operations on fifty shared session keys (a few
users and scopes, two tenants), once per backend; the `test_stress_*` tests examine the
result. Every answer is one the contract allows; the log verifies and the read models
equal a replay of it; the log holds exactly the operations that were acknowledged, each
whole (every event names, by its trace id, the operation that wrote it); no answer
missed a write that had returned before the operation started (from the operations'
wall-clock windows); reads agree with each session's history; a sweep ends what is due.

The workers are `tests/stress/worker.py`. Runs are seeded and a failure prints the seed;
`GREENTIC_SESSION_STRESS_SEED` replays the same operation sequences (their interleaving is
up to the machine). `GREENTIC_SESSION_STRESS_OPS` (operations per worker, default 2000)
makes the runs longer.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from greentic_session import ErrorCode, open_store
from tests.conftest import PERSISTENT_BACKENDS, Databases
from tests.stress.accounting import account, read_log, store_checks
from tests.stress.contract_checks import ALLOWED_FAILURES, contract_problems, sweep_problems
from tests.stress.processes import PROCESS_TIMEOUT, check, reaped, run_seed, spawn, tail, wait_for
from tests.stress.staleness import stale_answers
from tests.stress.worker import (
    CLEAR,
    CREATE,
    FIND,
    GET,
    LIST,
    OK,
    REGISTER_IF_ABSENT,
    REMOVE,
    STRESS_MIX,
    UPDATE,
    UPDATE_EXPECTED,
    OpRecord,
)

pytestmark = pytest.mark.stress

WORKERS = 4
OPS_PER_WORKER = int(os.environ.get("GREENTIC_SESSION_STRESS_OPS") or 2000)


@dataclass
class StressRun:
    url: str
    seed: str
    ops: dict[str, OpRecord]
    owners_of: dict[str, int]  # every session key the workers used -> its owner
    outcomes: Counter[tuple[str, str]]


@pytest.fixture(scope="module", params=PERSISTENT_BACKENDS)
def stress_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StressRun]:
    """Four worker processes run their random operations on one fresh database (once per
    backend; the tests below examine the result)."""
    backend: str = request.param
    dsn = request.getfixturevalue("pg_dsn") if backend == "postgres" else None
    tmp_path = tmp_path_factory.mktemp(f"stress-{backend}")
    databases = Databases(backend, tmp_path, dsn)
    try:
        url = databases.new_url()
        yield run_workers(url, tmp_path, backend)
    finally:
        databases.drop_all()


def run_workers(url: str, tmp_path: Path, backend: str) -> StressRun:
    seed = run_seed()
    print(f"seed {seed}: {WORKERS} workers x {OPS_PER_WORKER} operations on {backend}")
    with open_store(url):
        pass  # the tables exist before the workers start
    outs = [tmp_path / f"worker-{n}.jsonl" for n in range(WORKERS)]
    logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]
    started = time.monotonic()
    with ExitStack() as stack:
        processes = []
        for n, (out, log) in enumerate(zip(outs, logs, strict=True)):
            log_file = stack.enter_context(log.open("w", encoding="utf-8"))
            args = ["stress", url, seed, str(n), str(OPS_PER_WORKER), str(out)]
            processes.append(spawn(args, log_file))
        stack.enter_context(reaped(processes))
        ready = [out.with_suffix(".ready") for out in outs]
        wait_for(lambda: all(r.exists() for r in ready), "starting the workers", processes, logs)
        (tmp_path / "go").touch()  # all at once, so they meet on the same sessions
        for process, log in zip(processes, logs, strict=True):
            try:
                code = process.wait(timeout=PROCESS_TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail(f"a worker did not finish in {PROCESS_TIMEOUT} s (seed {seed})")
            assert code == 0, f"a worker failed (seed {seed}):\n{tail(log)}"
    elapsed = time.monotonic() - started
    ops: dict[str, OpRecord] = {}
    for out in outs:
        for line in out.read_text(encoding="utf-8").splitlines():
            record = cast(OpRecord, json.loads(line))
            assert record["trace"] not in ops
            ops[record["trace"]] = record
    assert len(ops) == WORKERS * OPS_PER_WORKER
    outcomes = Counter((op["kind"], op["outcome"]) for op in ops.values())
    print(f"{elapsed:.1f} s; outcomes: {dict(sorted(outcomes.items()))}")
    gave_up = [op["trace"] for op in ops.values() if "gave up" in (op["error"] or "")]
    if gave_up:
        print(f"operations that gave up after repeated clashes: {gave_up}")
    owners_of = {key: owner for key, owner in STRESS_MIX.keys}
    owners_of |= {
        str(op["result"]): op["owner"]
        for op in ops.values()
        if op["kind"] == CREATE and op["outcome"] == OK
    }
    return StressRun(url, seed, ops, owners_of, outcomes)


def test_stress_operations_answer_only_what_the_contract_allows(stress_run: StressRun) -> None:
    ops = stress_run.ops.values()
    check(
        [
            f"{op['trace']}: {op['outcome']}: {op['error']}"
            for op in ops
            if op["outcome"] != OK and op["outcome"] not in ALLOWED_FAILURES[op["kind"]]
        ],
        stress_run.seed,
        "operations failed with codes the contract does not allow them",
    )
    if OPS_PER_WORKER >= 1000:  # every kind of operation and the interesting refusals ran
        outcomes = stress_run.outcomes
        seen = {kind for kind, outcome in outcomes if outcome == OK}
        assert seen == set(ALLOWED_FAILURES), f"never acknowledged: {set(ALLOWED_FAILURES) - seen}"
        assert outcomes[UPDATE_EXPECTED, ErrorCode.CONFLICT] > 0
        assert outcomes[REGISTER_IF_ABSENT, ErrorCode.CONFLICT] > 0
        assert outcomes[UPDATE, ErrorCode.NOT_FOUND] > 0


def test_stress_log_verifies_and_read_models_are_its_replay(stress_run: StressRun) -> None:
    with open_store(stress_run.url) as store:
        check(store_checks(store), stress_run.seed, "the store after the run")


def test_stress_log_holds_exactly_the_acknowledged_writes(stress_run: StressRun) -> None:
    with open_store(stress_run.url) as store:
        accounting = account(read_log(store), stress_run.ops)
    print(f"primary events (acknowledged, logged): {accounting.counts}")
    check(accounting.problems, stress_run.seed, "the log against the acknowledged operations")


def stale(stress_run: StressRun, kinds: Collection[str]) -> list[str]:
    with open_store(stress_run.url) as store:
        logged = read_log(store)
    return stale_answers(logged, stress_run.ops, stress_run.owners_of, kinds)


def test_stress_reads_and_checks_saw_every_write_that_had_returned(stress_run: StressRun) -> None:
    """get/find/list, and the conflicts of expected_version and if_absent (which read the
    stored state), agree with every write that had returned before they started."""
    problems = stale(stress_run, (GET, FIND, LIST, UPDATE_EXPECTED, REGISTER_IF_ABSENT))
    check(problems, stress_run.seed, "answers that missed writes which had returned before")


def test_stress_refusals_and_no_ops_saw_every_write_that_had_returned(
    stress_run: StressRun,
) -> None:
    """not_found from update/remove, and a clear_wait that cleared nothing, agree with every
    write that had returned before they started."""
    problems = stale(stress_run, (UPDATE, REMOVE, CLEAR))
    check(problems, stress_run.seed, "answers that missed writes which had returned before")


def test_stress_reads_agree_with_histories_and_a_sweep_ends_what_is_due(
    stress_run: StressRun,
) -> None:
    now = datetime.now(UTC)
    with open_store(stress_run.url, clock=lambda: now) as store:
        check(
            contract_problems(store, stress_run.owners_of, now),
            stress_run.seed,
            "reads against the histories",
        )
        check(sweep_problems(store, now), stress_run.seed, "sweeping the expired sessions")
