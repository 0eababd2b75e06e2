"""Stress and crash runs on the shared backends (SQLite, PostgreSQL), in real processes.

- Four worker processes each run random operations on fifty shared session keys (a few
  users and scopes, two tenants), once per backend; the `test_stress_*` tests examine the
  result. Every answer is one the contract allows; the log verifies and the read models
  equal a replay of it; the log holds exactly the operations that were acknowledged, each
  whole (every event names, by its trace id, the operation that wrote it); no answer
  missed a write that had returned before the operation started (from the operations'
  wall-clock windows); reads agree with each session's history; a sweep ends what is due.
- A writer process is killed with SIGKILL at random moments, many times over one
  database. After each kill the store reopens, verifies clean, holds every acknowledged
  write, holds no operation in part, and takes writes again.

The workers are `tests/stress_worker.py`. Runs are seeded and a failure prints the seed;
`GREENTIC_SESSION_STRESS_SEED` replays the same operation sequences (their interleaving is
up to the machine). `GREENTIC_SESSION_STRESS_OPS` (operations per worker, default 2000)
and `GREENTIC_SESSION_CRASH_RUNS` (kills per backend, default 20) make the runs longer.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, cast
from uuid import UUID

import psycopg
import pytest

from greentic_session import ErrorCode, SessionEvent, UserId, open_store
from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.domain.aggregate import Session
from greentic_session.domain.rules import scope_key
from tests.conftest import PERSISTENT_BACKENDS, PG_DSN, Databases
from tests.stress.worker import (
    CLEAR,
    CRASH_MIX,
    CREATE,
    FIND,
    GET,
    LIST,
    OK,
    OWNERS,
    REGISTER,
    REGISTER_IF_ABSENT,
    REMOVE,
    SCOPES,
    STRESS_MIX,
    SWEEP,
    UPDATE,
    UPDATE_EXPECTED,
    Driver,
    OpRecord,
    make_trace,
    owner_ctx,
    owner_user,
    parse_trace,
    session_data,
)

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
OPS_PER_WORKER = int(os.environ.get("GREENTIC_SESSION_STRESS_OPS") or 2000)
CRASH_RUNS = int(os.environ.get("GREENTIC_SESSION_CRASH_RUNS") or 20)
MAX_KILL_DELAY = 0.4  # seconds after the writer's first acknowledged operation
PROCESS_TIMEOUT = 600.0

pytestmark = pytest.mark.stress

# What each operation may answer besides success: the codes the contract documents for it.
# `conflict` on a write without a version check: the store gave up after 20 clashes.
ALLOWED_FAILURES: dict[str, set[str]] = {
    CREATE: set(),
    UPDATE: {ErrorCode.NOT_FOUND, ErrorCode.CONFLICT},
    UPDATE_EXPECTED: {ErrorCode.NOT_FOUND, ErrorCode.CONFLICT},
    REGISTER: {ErrorCode.CONFLICT},
    REGISTER_IF_ABSENT: {ErrorCode.CONFLICT},
    CLEAR: {ErrorCode.CONFLICT},
    REMOVE: {ErrorCode.NOT_FOUND, ErrorCode.CONFLICT},
    GET: set(),
    FIND: set(),
    LIST: set(),
    SWEEP: {ErrorCode.CONFLICT},
}

# The event each acknowledged write leaves with its trace id (remove_session takes no
# context, so its `Removed` has no trace id: removals are counted per session key).
PRIMARY = {
    CREATE: "Created",
    UPDATE: "Updated",
    UPDATE_EXPECTED: "Updated",
    REGISTER: "WaitRegistered",
    REGISTER_IF_ABSENT: "WaitRegistered",
    REMOVE: "Removed",
}

INF = float("inf")

# Events after which a session no longer waits.
WAIT_ENDS = {"WaitSuperseded", "WaitCleared", "WaitExpired", "Removed"}


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


# -- worker processes --------------------------------------------------------------------------


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


# -- the log, read back ------------------------------------------------------------------------


@dataclass(frozen=True)
class Logged:
    """One event of the log, with what the accounting needs."""

    type: str  # the event class: Created, Recreated, Updated, WaitRegistered, ...
    key: str  # the session key of its stream
    version: int
    trace: str | None
    superseded_by: str | None = None
    scope_key: str | None = None
    expires_at: float | None = None  # of a registration: its deadline (a Unix time)


def read_log(store: EventSourcedSessionStore) -> list[Logged]:
    keys: dict[UUID, str] = {}
    logged = []
    for event in store.events():
        if isinstance(event, Session.Created):
            keys[event.originator_id] = event.session_key
        logged.append(
            Logged(
                type=type(event).__name__,
                key=keys.get(event.originator_id, f"<stream {event.originator_id}>"),
                version=event.originator_version,
                trace=event.trace.get("trace_id"),
                superseded_by=getattr(event, "by_session_key", None),
                scope_key=getattr(event, "scope_key", None),
                expires_at=deadline.timestamp()
                if isinstance(event, Session.WaitRegistered) and (deadline := event.expires_at)
                else None,
            )
        )
    return logged


def wait_scope_key(owner: int, scope: int) -> str:
    return scope_key(owner_ctx(owner), UserId(owner_user(owner)), SCOPES[scope])


def store_checks(store: EventSourcedSessionStore) -> list[str]:
    """The hash chains and heads verify; the stored read models are the log's replay."""
    report = store.verify()
    problems = [f"verify: {problem}" for problem in report.problems]
    if not report.ok and not problems:
        problems.append("verify: not ok, no problem named")
    if store.current_read_models() != store.replay_read_models():
        problems.append("the stored read models differ from a replay of the log")
    return problems


# -- accounting: each event belongs to one operation, which is in the log completely ---------


def as_written(op: OpRecord, events: list[Logged]) -> str | None:
    """None if `events` are exactly what `op` writes when it succeeds, else what is wrong."""
    kind, key = op["kind"], op["key"]
    types = [e.type for e in events]
    if kind == CREATE:
        if types != ["Created"] or events[0].version != 1:
            return f"a create_session wrote {types}"
        if op["result"] is not None and events[0].key != op["result"]:
            return f"created {events[0].key}, but returned {op['result']}"
        return None
    if kind in (UPDATE, UPDATE_EXPECTED):
        if types != ["Updated"] or events[0].key != key:
            return f"an update of {key} wrote {[(e.type, e.key) for e in events]}"
        return None
    if kind in (REGISTER, REGISTER_IF_ABSENT):
        own = [e for e in events if e.key == key]
        others = [e for e in events if e.key != key]
        own_types = [e.type for e in own]
        allowed = (
            ["WaitRegistered"],
            ["Created", "WaitRegistered"],
            ["Recreated", "WaitRegistered"],
            ["WaitExpired", "Recreated", "WaitRegistered"],
        )
        if own_types not in allowed or (own_types[0] == "Created" and own[0].version != 1):
            return f"a register_wait on {key} wrote {own_types} on it"
        scope = op["scope"]
        if scope is not None and own[-1].scope_key != wait_scope_key(op["owner"], scope):
            return f"a register_wait on {key} registered another scope"
        if len(others) > 1 or any(e.type not in ("WaitSuperseded", "WaitExpired") for e in others):
            return f"a register_wait on {key} wrote {[(e.type, e.key) for e in others]} elsewhere"
        for e in others:
            if e.type == "WaitSuperseded" and (
                e.superseded_by != key or kind == REGISTER_IF_ABSENT
            ):
                return f"{e.key} superseded by {e.superseded_by} in a {kind} of {key}"
        return None
    if kind == CLEAR:
        if len(events) > 1 or any(e.type not in ("WaitCleared", "WaitExpired") for e in events):
            return f"a clear_wait wrote {[(e.type, e.key) for e in events]}"
        return None
    # A remove's `Removed` carries no trace id; reads write nothing.
    return f"a {kind} wrote {types}" if events else None


def as_refused(op: OpRecord, events: list[Logged]) -> str | None:
    """A refused operation keeps nothing but the expiries it met, one per session at most."""
    keys = [e.key for e in events]
    if any(e.type != "WaitExpired" for e in events) or len(set(keys)) != len(keys):
        return f"refused, yet wrote {[(e.type, e.key) for e in events]}"
    if op["kind"] in (UPDATE, UPDATE_EXPECTED, REMOVE) and set(keys) - {op["key"]}:
        return f"refused, yet expired {keys}, not its own session"
    return None


def unrecorded(trace: str) -> OpRecord:
    """The operation a trace id names, when its writer died before recording the outcome."""
    name = parse_trace(trace)
    assert name is not None, trace
    return {
        "trace": trace,
        "kind": name.kind,
        "key": name.key,
        "owner": name.owner,
        "scope": None,  # not in the trace id
        "outcome": "unknown",
        "error": None,
        "result": None,
        "expected": None,
        "start": -INF,
        "end": INF,
    }


def takeover_problems(
    logged: list[Logged], by_trace: Mapping[str | None, list[Logged]]
) -> list[str]:
    """Each registration that took a scope from another session ended that session's wait
    in the same operation. Who held each scope at the time comes from the log, replayed
    here independently of `projections`."""
    holder: dict[str, str] = {}  # scope key -> session key
    waiting: dict[str, str] = {}  # session key -> scope key
    problems = []
    for event in logged:
        if event.type == "WaitRegistered":
            assert event.scope_key is not None
            previous = waiting.get(event.key)
            if previous is not None and holder.get(previous) == event.key:
                del holder[previous]
            owner = holder.get(event.scope_key)
            if owner is not None and owner != event.key:
                ended = [
                    e
                    for e in by_trace.get(event.trace, [])
                    if e.key == owner
                    and (
                        e.type == "WaitExpired"
                        or (e.type == "WaitSuperseded" and e.superseded_by == event.key)
                    )
                ]
                if not ended:
                    problems.append(
                        f"{event.key} v{event.version} ({event.trace}) took the scope of "
                        f"{owner}, whose wait did not end in the same operation"
                    )
            holder[event.scope_key] = event.key
            waiting[event.key] = event.scope_key
        elif event.type == "WaitSuperseded":
            waiting.pop(event.key, None)  # its scope has a new holder already
        elif event.type in WAIT_ENDS:
            scope = waiting.pop(event.key, None)
            if scope is not None and holder.get(scope) == event.key:
                del holder[scope]
    return problems


@dataclass
class Accounting:
    problems: list[str] = field(default_factory=list)
    landed: dict[str, bool] = field(default_factory=dict)  # unknown outcome -> in the log
    # primary event type -> (acknowledged operations and landed unknown ones, events)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)


def account(
    logged: list[Logged], ops: Mapping[str, OpRecord], unknown: Collection[str] = ()
) -> Accounting:
    """Matches every event with the operation whose trace id it carries.

    `ops`: the records of every operation that returned. `unknown`: trace ids of
    operations whose writer was killed before it recorded the outcome; each is in the
    log completely or not at all.
    """
    result = Accounting()
    problems = result.problems
    by_trace: dict[str | None, list[Logged]] = {}
    for event in logged:
        by_trace.setdefault(event.trace, []).append(event)

    # Only remove_session and sweep_expired (they take no context) write events without a
    # trace id: removals, and expiries.
    for event in by_trace.get(None, []):
        if event.type not in ("Removed", "WaitExpired"):
            problems.append(f"{event.key} v{event.version}: {event.type} without a trace id")
    for trace, events in by_trace.items():
        if trace is not None and trace not in ops and trace not in unknown:
            where = [(e.type, e.key, e.version) for e in events]
            problems.append(f"events of an operation no worker ran or reported: {trace}: {where}")

    expected: Counter[str] = Counter()
    removals: Counter[str] = Counter()  # acknowledged removes, per key
    for trace, op in ops.items():
        events = by_trace.get(trace, [])
        if op["outcome"] != OK:
            problem = as_refused(op, events)
        elif not events and op["kind"] in PRIMARY and op["kind"] != REMOVE:
            problem = "acknowledged, but not in the log"
        else:
            problem = as_written(op, events)
        if problem is not None:
            problems.append(f"{trace} ({op['outcome']}): {problem}")
        if op["outcome"] == OK and op["kind"] in PRIMARY:
            expected[PRIMARY[op["kind"]]] += 1
        if op["outcome"] == OK and op["kind"] == REMOVE:
            removals[str(op["key"])] += 1

    maybe_removed: set[str] = set()
    for trace in unknown:
        op = unrecorded(trace)
        events = by_trace.get(trace, [])
        written, refused = as_written(op, events), as_refused(op, events)
        if written is not None and refused is not None:
            where = [(e.type, e.key, e.version) for e in events]
            problems.append(f"{trace} (killed on its way) is in the log in part: {where}")
        primary = PRIMARY.get(op["kind"])
        result.landed[trace] = primary is not None and any(e.type == primary for e in events)
        if result.landed[trace] and primary is not None:
            expected[primary] += 1
        if op["kind"] == REMOVE:
            maybe_removed.add(str(op["key"]))

    removed = Counter(e.key for e in by_trace.get(None, []) if e.type == "Removed")
    for key in sorted(removed.keys() | removals.keys()):
        extra = removed[key] - removals[key]
        if extra != 0 and not (extra == 1 and key in maybe_removed):
            problems.append(
                f"{key}: {removed[key]} Removed events, {removals[key]} acknowledged removes"
            )

    def of_kind(event: Logged, kinds: tuple[str, ...]) -> bool:
        name = None if event.trace is None else parse_trace(event.trace)
        return name is not None and name.kind in kinds

    counted = {
        "Created": sum(1 for e in logged if e.type == "Created" and of_kind(e, (CREATE,))),
        "Updated": sum(1 for e in logged if e.type == "Updated"),
        "WaitRegistered": sum(1 for e in logged if e.type == "WaitRegistered"),
        "Removed": sum(removed.values()),
    }
    for event_type, events_count in counted.items():
        ops_count = expected[event_type]
        result.counts[event_type] = (ops_count, events_count)
        slack = len(maybe_removed) if event_type == "Removed" else 0
        if not ops_count <= events_count <= ops_count + slack:
            problems.append(
                f"{events_count} {event_type} events for {ops_count} acknowledged operations"
            )
    problems += takeover_problems(logged, by_trace)
    return result


# -- no stale answers: what an operation saw agrees with the writes that had returned ---------


@dataclass(frozen=True)
class Stage:
    """A session's state after one event of its stream, and when that event committed: within
    [lo, hi], the window of the operation that wrote it, narrowed by the stream's order
    (unbounded for an event without a trace id)."""

    lo: float
    hi: float
    version: int
    live: bool
    expires_at: float | None
    waits_on: str | None  # scope key

    def live_through(self, end: float) -> bool:
        return self.live and (self.expires_at is None or self.expires_at > end)

    def dead_through(self, start: float) -> bool:
        return not self.live or (self.expires_at is not None and self.expires_at <= start)

    def waits_through(self, scope: str, end: float) -> bool:
        return self.waits_on == scope and self.live_through(end)

    def away_through(self, scopes: Collection[str], start: float) -> bool:
        return self.waits_on not in scopes or self.dead_through(start)


NEVER = Stage(-INF, -INF, 0, False, None, None)


class Timeline:
    """Each session's states over (wall-clock) time, as far as the log and the operations'
    windows pin them down."""

    def __init__(self, logged: list[Logged], ops: Mapping[str, OpRecord]) -> None:
        streams: dict[str, list[Logged]] = {}
        for event in logged:
            streams.setdefault(event.key, []).append(event)
        self.stages: dict[str, list[Stage]] = {}
        self.ends: dict[str, list[float]] = {}  # the stages' `hi`, for bisecting
        for key, events in streams.items():
            stages: list[Stage] = []
            state = NEVER
            for event in events:
                op = ops.get(event.trace or "")
                lo, hi = (op["start"], op["end"]) if op is not None else (-INF, INF)
                lo = max(lo, stages[-1].lo) if stages else lo
                if event.type in ("Created", "Recreated"):
                    state = Stage(lo, hi, event.version, True, None, None)
                elif event.type == "WaitRegistered":
                    state = Stage(lo, hi, event.version, True, event.expires_at, event.scope_key)
                elif event.type == "WaitSuperseded":
                    state = Stage(lo, hi, event.version, state.live, state.expires_at, None)
                elif event.type == "Updated":
                    state = Stage(lo, hi, event.version, True, state.expires_at, state.waits_on)
                else:  # the session ended
                    state = Stage(lo, hi, event.version, False, None, None)
                stages.append(state)
            for n in range(len(stages) - 2, -1, -1):  # committed before the next one did
                if stages[n].hi > stages[n + 1].hi:
                    stages[n] = replace(stages[n], hi=stages[n + 1].hi)
            self.stages[key] = stages
            self.ends[key] = [stage.hi for stage in stages]

    def during(self, key: str, start: float, end: float) -> Stage | None:
        """The state the session had from `start` to `end`; None if it may have changed then."""
        stages = self.stages.get(key, [])
        first_after = bisect_left(self.ends.get(key, []), start)
        if first_after < len(stages) and stages[first_after].lo <= end:
            return None
        return stages[first_after - 1] if first_after else NEVER


def stale_answers(
    logged: list[Logged],
    ops: Mapping[str, OpRecord],
    owners_of: Mapping[str, int],
    kinds: Collection[str],
) -> list[str]:
    """An operation that ran entirely while a session stayed in one state must have seen
    that state ("a read that starts after a write returned sees that write", from any
    process). Checked for every answer that writes nothing: reads, refusals, and a
    clear_wait that found nothing to clear."""
    timeline = Timeline(logged, ops)
    traced = {event.trace for event in logged}
    keys_of: dict[int, list[str]] = {}
    for key, owner in owners_of.items():
        keys_of.setdefault(owner, []).append(key)
    problems = []
    for trace, op in ops.items():
        if op["kind"] not in kinds:
            continue
        seen = Seen(timeline, op, keys_of[op["owner"]])
        wrong = seen.wrong(trace not in traced, owners_of)
        problems += [f"{trace} ({op['outcome']}, {op['result']}): {what}" for what in wrong]
    return problems


@dataclass(frozen=True)
class Seen:
    """One operation's answer against the sessions' states during it."""

    timeline: Timeline
    op: OpRecord
    owner_keys: list[str]  # the sessions of the operation's owner

    def during(self, key: str) -> Stage | None:
        return self.timeline.during(key, self.op["start"], self.op["end"])

    def wrong(self, wrote_nothing: bool, owners_of: Mapping[str, int]) -> list[str]:
        op = self.op
        kind, key, owner, start, end = op["kind"], op["key"], op["owner"], op["start"], op["end"]
        outcome, result = op["outcome"], op["result"]
        scope = None if op["scope"] is None else wait_scope_key(owner, op["scope"])
        wrong = []
        if kind in (UPDATE, UPDATE_EXPECTED, REMOVE, GET):
            state = self.during(str(key))
            if state is None:
                return []
            if outcome == ErrorCode.NOT_FOUND or (kind == GET and result is False):
                if state.live_through(end):
                    wrong.append(f"{key} was live (v{state.version}) all along")
            elif kind == GET and result is True and state.dead_through(start):
                wrong.append(f"{key} had ended (v{state.version}) before")
            elif outcome == ErrorCode.CONFLICT and state.version == op["expected"]:
                wrong.append(f"{key} stayed at the version expected, v{state.version}")
        elif kind == CLEAR and outcome == OK and wrote_nothing:
            assert scope is not None
            for other in self.owner_keys:
                state = self.during(other)
                if state is not None and state.waits_through(scope, end):
                    wrong.append(f"nothing cleared while {other} (v{state.version}) waited there")
        elif kind == REGISTER_IF_ABSENT and outcome == ErrorCode.CONFLICT:
            assert scope is not None
            states = [self.during(other) for other in self.owner_keys]
            if all(s is not None and s.away_through({scope}, start) for s in states):
                wrong.append("no session waited on the scope all along")
        elif kind == FIND and outcome == OK:
            assert scope is not None
            for other in self.owner_keys:
                state = self.during(other)
                if state is not None and state.waits_through(scope, end) and result != other:
                    wrong.append(f"{other} (v{state.version}) waited on the scope all along")
            if result is not None:
                state = self.during(str(result))
                if owners_of.get(str(result)) != owner:
                    wrong.append(f"{result} is not a session of {OWNERS[owner]}")
                elif state is not None and state.away_through({scope}, start):
                    wrong.append(f"{result} (v{state.version}) did not wait there all along")
        elif kind == LIST and outcome == OK:
            scopes = {wait_scope_key(owner, n) for n in range(len(SCOPES))}
            for other in self.owner_keys:
                state = self.during(other)
                if (
                    state is not None
                    and state.live_through(end)
                    and state.waits_on in scopes
                    and other not in result
                ):
                    wrong.append(f"{other} (v{state.version}) waited all along")
            for listed in result:
                state = self.during(listed)
                if owners_of.get(listed) != owner:
                    wrong.append(f"{listed} is not a session of {OWNERS[owner]}")
                elif state is not None and state.away_through(scopes, start):
                    wrong.append(f"{listed} (v{state.version}) did not wait all along")
        return wrong


# -- the contract, after the run ---------------------------------------------------------------


def waiting_on(history: list[SessionEvent], now: datetime) -> SessionEvent | None:
    """The `wait_registered` event of the session's live wait, from its history alone."""
    for event in reversed(history):
        if event.type.value == "wait_registered":
            last = history[-1]
            if last.data is None or (last.expires_at is not None and last.expires_at <= now):
                return None
            return event
        if event.type.value in ("wait_superseded", "wait_cleared", "wait_expired", "removed"):
            return None
    return None


def contract_problems(
    store: EventSourcedSessionStore, owners_of: Mapping[str, int], now: datetime
) -> list[str]:
    """What every reader sees agrees with each session's history: its data, where it waits,
    who it belongs to; every live wait is routed, and each user's waits are listed in the
    order they were registered. (`store` reads time at `now`.)"""
    problems = []
    histories = {key: store.history(key) for key in owners_of}
    live_waits: dict[tuple[int, int], str] = {}
    live_sessions = 0
    for key, history in histories.items():
        owner = owners_of[key]
        last = history[-1] if history else None
        live = (
            last is not None
            and last.data is not None
            and (last.expires_at is None or last.expires_at > now)
        )
        want = last.data if live and last is not None else None
        got = store.get_session(key)
        live_sessions += got is not None
        if got != want:
            problems.append(f"get_session({key}) is {got}, its history says {want}")
        if got is not None:
            tenant, team, user = OWNERS[owner]
            ctx = got.tenant_ctx
            if (ctx.tenant_id, ctx.normalized_team, ctx.normalized_user) != (tenant, team, user):
                problems.append(f"{key} holds the data of another owner: {ctx}")
        wait = waiting_on(history, now)
        if wait is not None:
            assert wait.scope is not None
            scope = SCOPES.index(wait.scope)
            if wait.user_id != owner_user(owner):
                problems.append(f"{key} waits for user {wait.user_id}")
            if (owner, scope) in live_waits:
                problems.append(f"{key} and {live_waits[owner, scope]} both wait on {wait.scope}")
            live_waits[owner, scope] = key
    print(f"at the end: {live_sessions} of {len(owners_of)} sessions live, {len(live_waits)} waits")
    for owner in range(len(OWNERS)):
        ctx, user = owner_ctx(owner), owner_user(owner)
        routed = []
        for scope in range(len(SCOPES)):
            found = store.find_wait_by_scope(ctx, user, SCOPES[scope])
            if found != live_waits.get((owner, scope)):
                problems.append(
                    f"find_wait_by_scope({OWNERS[owner]}, {SCOPES[scope]}) is {found}, "
                    f"the histories say {live_waits.get((owner, scope))}"
                )
            if found is not None:
                routed.append(found)

        def registered_at(key: str) -> int:
            wait = waiting_on(histories.get(key, []), now)
            return 0 if wait is None else wait.position

        listed = store.list_waits_for_user(ctx, user)
        in_order = sorted(routed, key=registered_at)
        if listed != in_order:
            problems.append(
                f"list_waits_for_user({OWNERS[owner]}) is {listed}; by registration: {in_order}"
            )
    return problems


def sweep_problems(store: EventSourcedSessionStore, now: datetime) -> list[str]:
    """A sweep records exactly the expiries that were due, and leaves a consistent store."""
    due = {
        key
        for key, state in store.current_read_models().states.items()
        if state.data is not None and state.expires_at is not None and state.expires_at <= now
    }
    swept = store.sweep_expired()
    print(f"the sweep expired {swept} sessions")
    problems = [] if swept == len(due) else [f"the sweep expired {swept} sessions, {len(due)} due"]
    after = store.current_read_models().states
    left = [
        key
        for key, state in after.items()
        if state.data is not None and state.expires_at is not None and state.expires_at <= now
    ]
    if left:
        problems.append(f"still due after the sweep: {left}")
    return problems + store_checks(store)


# -- 1. four processes, random operations ------------------------------------------------------


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


# -- 2. a writer killed at random moments ------------------------------------------------------


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
