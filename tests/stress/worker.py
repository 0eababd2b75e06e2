"""Worker processes of the stress runs (`tests/stress/`), run as
`python -m tests.stress.worker MODE ...`.

`stress URL SEED WORKER OPS OUT`
    Opens the store, touches `OUT.ready`, waits for the file `go` beside `OUT`, then runs
    OPS random operations over the shared keys and writes one JSON line per operation to
    OUT (its record: kind, trace id, key, outcome).
`crash URL SEED RUN ACKS`
    Random writes until it is killed; after each operation returns (acknowledged or
    refused) it appends the operation's record to ACKS, flushed and fsynced.

Every operation has its own trace id, which names it: `PREFIX:N:KIND:OWNER:KEY` (`-` for a
key not known beforehand). The parent can therefore tell from the log alone which
operation wrote an event, even when the writer was killed between the commit and the
record. The sequence of operations a worker attempts depends only on its seed.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict

from greentic_session import (
    EventSourcedSessionStore,
    SessionData,
    SessionError,
    TenantCtx,
    open_store,
)
from tests.support import make_ctx, make_data, make_scope

# -- what the workers share with the parent ---------------------------------------------------

CREATE = "create"
UPDATE = "update"
UPDATE_EXPECTED = "update_expected"
REGISTER = "register"
REGISTER_IF_ABSENT = "register_if_absent"
CLEAR = "clear"
REMOVE = "remove"
GET = "get"
FIND = "find"
LIST = "list"
SWEEP = "sweep"  # sweep_expired: like remove_session, it has no context to take a trace from

WRITES = (CREATE, UPDATE, UPDATE_EXPECTED, REGISTER, REGISTER_IF_ABSENT, CLEAR, REMOVE, SWEEP)
READS = (GET, FIND, LIST)
KINDS = WRITES + READS

ENV = "dev"
# (tenant, team, user). Two tenants; user "u1" exists in both, so isolation is exercised.
OWNERS: list[tuple[str, str | None, str]] = [
    ("tenant-a", None, "u1"),
    ("tenant-a", None, "u2"),
    ("tenant-a", None, "u3"),
    ("tenant-b", "team-x", "u1"),
]
SCOPES = [
    make_scope("chat-1"),
    make_scope("chat-1", "thread-1"),
    make_scope("chat-2"),
    make_scope("chat-3", "thread-9"),
]
SHARED_KEYS = [f"shared-{n:02d}" for n in range(50)]

OK = "ok"
EXCEPTION = "exception"  # anything but a SessionError: always a failure of the store


class OpRecord(TypedDict):
    """What a worker reports about one operation."""

    trace: str
    kind: str
    key: str | None  # None: create (the key is in `result`), or an operation on a scope
    owner: int
    scope: int | None
    outcome: str  # OK, an ErrorCode value, or EXCEPTION
    error: str | None
    result: Any
    expected: int | None  # update_expected: the version it expected
    start: float  # wall clock (time.time(), the store's clock) before the call
    end: float  # and after it returned


@dataclass(frozen=True)
class Mix:
    """How a worker draws its operations."""

    weights: dict[str, int]
    keys: list[tuple[str, int]]  # (key, owner index)
    owners: int  # owners 0..owners-1 of OWNERS
    scopes: int  # scopes 0..scopes-1 of SCOPES
    ttls: Sequence[timedelta | None]
    own_keys: float  # share of key operations on keys this worker created


def shared_keys(count: int, owners: int) -> list[tuple[str, int]]:
    """Key n belongs to owner n % owners for its whole life, whoever writes it."""
    return [(key, n % owners) for n, key in enumerate(SHARED_KEYS[:count])]


STRESS_MIX = Mix(
    weights={
        UPDATE: 16,
        UPDATE_EXPECTED: 10,
        REGISTER: 20,
        REGISTER_IF_ABSENT: 8,
        CLEAR: 8,
        REMOVE: 6,
        CREATE: 4,
        GET: 10,
        FIND: 10,
        LIST: 8,
        SWEEP: 1,
    },
    keys=shared_keys(50, len(OWNERS)),
    owners=len(OWNERS),
    scopes=len(SCOPES),
    # Real clock: short TTLs expire during the run, so writes meet expiries and record them.
    ttls=[None] * 6
    + [
        timedelta(0),
        timedelta(seconds=-1),
        timedelta(milliseconds=50),
        timedelta(milliseconds=300),
        timedelta(seconds=1),
        timedelta(seconds=3),
    ],
    own_keys=0.15,
)

# Few keys, users and scopes: most registrations take a scope over from another session,
# which writes two streams in one transaction.
CRASH_MIX = Mix(
    weights={
        REGISTER: 40,
        REGISTER_IF_ABSENT: 5,
        UPDATE: 16,
        UPDATE_EXPECTED: 4,
        CLEAR: 10,
        REMOVE: 8,
        CREATE: 7,
    },
    keys=shared_keys(10, 2),
    owners=2,
    scopes=3,
    ttls=[None] * 8 + [timedelta(0), timedelta(milliseconds=20), timedelta(milliseconds=200)],
    own_keys=0.2,
)


def owner_ctx(owner: int, trace: str | None = None) -> TenantCtx:
    tenant, team, user = OWNERS[owner]
    ctx = make_ctx(ENV, tenant, team, user)
    return ctx if trace is None else ctx.model_copy(update={"trace_id": trace})


def owner_user(owner: int) -> str:
    return OWNERS[owner][2]


def make_trace(prefix: str, n: int, kind: str, owner: int, key: str | None) -> str:
    return f"{prefix}:{n}:{kind}:{owner}:{key or '-'}"


@dataclass(frozen=True)
class TraceName:
    """A trace id taken apart."""

    prefix: str
    n: int
    kind: str
    owner: int
    key: str | None


def parse_trace(trace: str) -> TraceName | None:
    """None: not a trace id of these tests."""
    parts = trace.split(":", 4)
    if len(parts) != 5 or parts[2] not in KINDS:
        return None
    prefix, n, kind, owner, key = parts
    try:
        return TraceName(prefix, int(n), kind, int(owner), None if key == "-" else key)
    except ValueError:
        return None


def session_data(ctx: TenantCtx, n: int) -> SessionData:
    payload = json.dumps({"trace": ctx.trace_id, "n": n, "text": 'ü "quoted"\n'})
    return make_data(ctx, node=f"node-{n}", context_json=payload, flow="flow-stress")


# -- the operations ----------------------------------------------------------------------------


class Driver:
    """Runs operations on a store and records each one's outcome."""

    def __init__(
        self,
        store: EventSourcedSessionStore,
        prefix: str,
        mix: Mix,
        on_start: Callable[[str], None] | None = None,
    ) -> None:
        """`on_start`: called with each operation's trace id just before it runs."""
        self.store = store
        self.prefix = prefix
        self.mix = mix
        self.on_start = on_start
        self.created: list[tuple[str, int]] = []
        self.versions: dict[str, int] = {}  # the version each key had when last seen

    def step(self, rng: random.Random, n: int) -> OpRecord:
        """One random operation. Draws the same number of values whatever happened before,
        so the sequence of attempted operations depends on the seed alone."""
        mix = self.mix
        kinds = list(mix.weights)
        kind = rng.choices(kinds, weights=[mix.weights[k] for k in kinds])[0]
        own = rng.random() < mix.own_keys
        pick = rng.random()
        owner = rng.randrange(mix.owners)
        scope = rng.randrange(mix.scopes)
        ttl = rng.choice(list(mix.ttls))
        stale = rng.random() < 0.25
        pool = self.created if own and self.created else mix.keys
        key, key_owner = pool[int(pick * len(pool))]
        if kind in (CREATE, CLEAR, FIND, LIST, SWEEP):
            return self.perform(n, kind, None, owner, scope)
        return self.perform(n, kind, key, key_owner, scope, ttl=ttl, stale=stale)

    def perform(
        self,
        n: int,
        kind: str,
        key: str | None,
        owner: int,
        scope: int | None,
        *,
        ttl: timedelta | None = None,
        stale: bool = False,
    ) -> OpRecord:
        trace = make_trace(self.prefix, n, kind, owner, key)
        record: OpRecord = {
            "trace": trace,
            "kind": kind,
            "key": key,
            "owner": owner,
            "scope": scope if kind in (REGISTER, REGISTER_IF_ABSENT, CLEAR, FIND) else None,
            "outcome": OK,
            "error": None,
            "result": None,
            "expected": None,
            "start": 0.0,
            "end": 0.0,
        }
        if self.on_start is not None:
            self.on_start(trace)
        record["start"] = time.time()
        try:
            record["result"] = self._run(record, n, ttl, stale)
        except SessionError as exc:
            record["outcome"] = exc.code.value
            record["error"] = exc.message
        except Exception as exc:
            record["outcome"] = EXCEPTION
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["end"] = time.time()
        return record

    def _run(self, record: OpRecord, n: int, ttl: timedelta | None, stale: bool) -> Any:
        store, kind, key, owner = self.store, record["kind"], record["key"], record["owner"]
        ctx = owner_ctx(owner, record["trace"])
        user = owner_user(owner)
        scope = SCOPES[record["scope"] or 0]
        data = session_data(ctx, n)
        if kind == CREATE:
            created = store.create_session(ctx, data)
            self.created.append((str(created), owner))
            return str(created)
        if kind == CLEAR:
            store.clear_wait(ctx, user, scope)
            return None
        if kind == FIND:
            found = store.find_wait_by_scope(ctx, user, scope)
            return None if found is None else str(found)
        if kind == LIST:
            return [str(k) for k in store.list_waits_for_user(ctx, user)]
        if kind == SWEEP:
            return store.sweep_expired()
        assert key is not None
        if kind == GET:
            return store.get_session(key) is not None
        if kind == UPDATE:
            store.update_session(key, data)
            return None
        if kind == UPDATE_EXPECTED:
            # Usually the version `history` reports now; sometimes one seen earlier, which
            # another write may have overtaken since (a conflict, as it must be).
            if stale and key in self.versions:
                expected = self.versions[key]
            else:
                history = store.history(key)
                expected = history[-1].version if history else 1
            self.versions[key] = expected
            record["expected"] = expected
            store.update_session(key, data, expected_version=expected)
            self.versions[key] = expected + 1
            return None
        if kind in (REGISTER, REGISTER_IF_ABSENT):
            store.register_wait(
                ctx, user, scope, key, data, ttl, if_absent=kind == REGISTER_IF_ABSENT
            )
            return None if ttl is None else ttl.total_seconds()
        if kind == REMOVE:
            store.remove_session(key)
            return None
        raise AssertionError(f"unknown operation {kind}")


# -- the two modes -----------------------------------------------------------------------------


def run_stress(url: str, seed: str, worker: int, ops: int, out: Path) -> None:
    rng = random.Random(f"{seed}:stress:{worker}")
    go = out.parent / "go"
    with open_store(url) as store:
        driver = Driver(store, f"w{worker}", STRESS_MIX)
        out.with_suffix(".ready").touch()
        deadline = time.monotonic() + 300
        while not go.exists():
            if time.monotonic() > deadline:
                raise SystemExit("never told to start")
            time.sleep(0.005)
        records = [driver.step(rng, n) for n in range(ops)]
    with out.open("w", encoding="utf-8") as fp:
        for record in records:
            fp.write(json.dumps(record) + "\n")


def run_crash(url: str, seed: str, run: int, acks: Path) -> None:
    """Never returns: the parent kills it. ACKS gets `{"begin": TRACE}` before each operation
    (so the parent knows which one was under way when it died) and its record after it."""
    rng = random.Random(f"{seed}:crash:{run}")
    with open_store(url) as store, acks.open("a", encoding="utf-8") as fp:

        def begin(trace: str) -> None:
            fp.write(json.dumps({"begin": trace}) + "\n")
            fp.flush()  # in the kernel: survives the kill of this process

        driver = Driver(store, f"r{run}", CRASH_MIX, on_start=begin)
        n = 0
        while True:
            record = driver.step(rng, n)
            fp.write(json.dumps(record) + "\n")
            fp.flush()
            os.fsync(fp.fileno())
            n += 1


def main(argv: list[str]) -> None:
    mode, url, seed, number, *rest = argv
    if mode == "stress":
        ops, out = rest
        run_stress(url, seed, int(number), int(ops), Path(out))
    elif mode == "crash":
        (acks,) = rest
        run_crash(url, seed, int(number), Path(acks))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
