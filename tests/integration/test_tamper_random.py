"""A seeded random tamperer over the SQL backends: one edit per case, of every kind in
`tamper.DAMAGE_KINDS`, made directly in the tables behind the store's back.

For each case: `verify` never raises, and reports a problem exactly when something stored
changed (an edit the database refuses changes nothing, and verifies clean); every audit tool
either answers or raises `SessionError(internal)`; the store still opens; a rebuild either
refuses, changing nothing, or leaves the log's damage still reported (and repairs damage
to the read models alone). Every failure names its seed; rerun one case with
`GREENTIC_SESSION_TAMPER_SEED=<seed> GREENTIC_SESSION_TAMPER_CASES=1`.

`GREENTIC_SESSION_TAMPER_CASES` (default 60 per backend, two of each kind) sets how
many cases run: a deeper run is `GREENTIC_SESSION_TAMPER_CASES=2000`.
"""

from __future__ import annotations

import io
import os
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

import pytest

from greentic_session import AuditedSessionStore, ErrorCode, SessionError, open_store
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.tenant import TenantCtx
from tests.conftest import PERSISTENT_BACKENDS
from tests.integration.tamper import (
    DAMAGE_KINDS,
    LOG_KINDS,
    RawTables,
    Refused,
    Tamperer,
)
from tests.support import FakeClock, make_ctx, make_data, make_scope

pytestmark = pytest.mark.parametrize("backend", PERSISTENT_BACKENDS, indirect=True)

CASES_VARIABLE = "GREENTIC_SESSION_TAMPER_CASES"
SEED_VARIABLE = "GREENTIC_SESSION_TAMPER_SEED"
DEFAULT_CASES = 2 * len(DAMAGE_KINDS)  # two of each kind per backend
FIRST_SEED = 1101

T = TypeVar("T")
Wait = tuple[TenantCtx, str, ReplyScope]


def _fill(store: AuditedSessionStore, clock: FakeClock) -> tuple[list[str], list[Wait]]:
    """Sessions with every event type: created, updated, waiting, superseded, cleared,
    expired, removed, created again and erased; two users."""
    alice, bob = make_ctx(user="alice"), make_ctx(user="bob")
    a, b, c, d = (make_scope(f"chat-{n}") for n in "abcd")
    waiting = store.create_session(alice, make_data(alice, node="node.first"))
    store.update_session(waiting, make_data(alice, node="node.second"))
    store.register_wait(alice, "alice", a, waiting, make_data(alice, node="node.third"))
    store.update_session(waiting, make_data(alice, node="node.fourth"))
    store.register_wait(bob, "bob", b, "taken", make_data(bob, node="node.b1"))
    store.register_wait(bob, "bob", b, "taker", make_data(bob, node="node.b2"))
    store.register_wait(alice, "alice", c, "cleared", make_data(alice, node="node.c"))
    store.clear_wait(alice, "alice", c)
    store.register_wait(
        bob, "bob", d, "expired", make_data(bob, node="node.d"), ttl=timedelta(minutes=1)
    )
    clock.advance(timedelta(minutes=2))
    store.sweep_expired()
    again = store.create_session(alice, make_data(alice, node="node.gone"))
    store.remove_session(again)
    store.register_wait(alice, "alice", d, again, make_data(alice, node="node.again"))
    plain = store.create_session(bob, make_data(bob, node="node.plain"))
    store.register_wait(bob, "bob", a, "erased", make_data(bob, node="node.erased"))
    store.update_session("erased", make_data(bob, node="node.erased-2"))
    store.erase(session="erased", reason="fill")
    keys = [waiting, "taken", "taker", "cleared", "expired", again, plain, "erased"]
    waits = [(alice, "alice", a), (bob, "bob", b), (alice, "alice", c), (bob, "bob", d)]
    return keys, waits


class _Case:
    """The crashes one case found: any exception but `SessionError(internal)`."""

    def __init__(self) -> None:
        self.crashes: list[str] = []

    def attempt(self, name: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except SessionError as exc:
            if exc.code is not ErrorCode.INTERNAL:
                self.crashes.append(f"{name} raised {exc}")
        except Exception as exc:
            self.crashes.append(f"{name} crashed: {type(exc).__name__}: {exc}")
        return None


def _use_every_tool(
    case: _Case, store: AuditedSessionStore, keys: list[str], waits: list[Wait], now: datetime
) -> None:
    for key in keys:
        events = case.attempt(f"history({key})", partial(store.history, key))
        count = len(events) if events is not None else 1
        for version in range(1, count + 1):
            at_version = partial(store.get_session_at, key, version=version)
            case.attempt(f"get_session_at({key}, version={version})", at_version)
        case.attempt(f"get_session_at({key}, at)", partial(store.get_session_at, key, at=now))
        if count >= 2:
            case.attempt(f"diff({key})", partial(store.diff, key, 1, count))
    for ctx, user, scope in waits:
        explain = partial(store.explain, ctx, user, scope, at=now)
        case.attempt(f"explain({scope.conversation})", explain)
    case.attempt("export_events", partial(store.export_events, io.StringIO()))


def _run_case(
    seed: int,
    kind: str,
    store: AuditedSessionStore,
    tamperer: Tamperer,
    url: str,
    keys: list[str],
    waits: list[Wait],
    now: datetime,
) -> tuple[str, list[str]]:
    """What the damage was (changed, unchanged or refused), and every failure."""
    tamperer.rng = random.Random(seed)
    tamperer.restore()
    before = tamperer.dump()
    try:
        what = getattr(tamperer, f"damage_{kind}")()
        refused = False
    except Refused as exc:
        what, refused = f"refused: {exc}", True
    after = tamperer.dump()
    changed = after != before
    outcome = "refused" if refused else "changed" if changed else "unchanged"
    label = f"seed {seed} ({kind}: {what})"
    failures: list[str] = []
    case = _Case()

    report = case.attempt("verify", store.verify)
    if report is not None and changed and report.ok:
        failures.append(f"{label}: a change verify did not see")
    if report is not None and not changed and not report.ok:
        failures.append(f"{label}: nothing changed, yet verify says {report.problems}")

    _use_every_tool(case, store, keys, waits, now)
    reopened = case.attempt("open_store", lambda: open_store(url))
    if reopened is not None:
        reopened.close()

    def rebuild() -> bool:
        store.rebuild_projections()
        return True

    if case.attempt("rebuild_projections", rebuild) is None:
        kept = tamperer.dump()
        if kept != after:
            failures.append(f"{label}: a rebuild that refused changed the tables")
    again = case.attempt("verify after rebuild", store.verify)
    if again is not None and changed:
        if kind in LOG_KINDS or kind.startswith("head"):
            if again.ok:
                failures.append(f"{label}: rebuild hid the damage from verify")
        elif not again.ok:
            failures.append(f"{label}: rebuild did not repair the read models: {again.problems}")
    failures += [f"{label}: {crash}" for crash in case.crashes]
    return outcome, failures


def test_random_damage_never_crashes_a_tool_and_never_passes_verify(
    backend: str,
    store: AuditedSessionStore,
    store_url: str,
    raw: RawTables,
    fake_clock: FakeClock,
) -> None:
    keys, waits = _fill(store, fake_clock)
    assert store.verify().ok
    tamperer = Tamperer(raw, backend, random.Random(0))
    tamperer.pristine()
    first = int(os.environ.get(SEED_VARIABLE) or FIRST_SEED)
    cases = int(os.environ.get(CASES_VARIABLE) or DEFAULT_CASES)
    outcomes: Counter[tuple[str, str]] = Counter()
    failures: list[str] = []
    for n in range(cases):
        seed = first + n
        kind = DAMAGE_KINDS[seed % len(DAMAGE_KINDS)]
        outcome, found = _run_case(
            seed, kind, store, tamperer, store_url, keys, waits, fake_clock.now
        )
        outcomes[kind, outcome] += 1
        for failure in found:
            print(failure)  # as they happen: a deep run may take long
        failures += found
    summary = ", ".join(f"{kind} {outcome} x{n}" for (kind, outcome), n in sorted(outcomes.items()))
    print(f"{backend}: {cases} cases: {summary}")
    assert not failures, "\n".join(failures[:40])
    assert any(outcome == "changed" for _, outcome in outcomes)
