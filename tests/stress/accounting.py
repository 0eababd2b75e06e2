"""The log of a stress run read back, and its accounting: each event belongs to one
operation, which is in the log completely."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from greentic_session import EventSourcedSessionStore, UserId
from greentic_session.domain.aggregate import Session
from greentic_session.domain.rules import scope_key
from tests.stress.worker import (
    CLEAR,
    CREATE,
    OK,
    REGISTER,
    REGISTER_IF_ABSENT,
    REMOVE,
    SCOPES,
    UPDATE,
    UPDATE_EXPECTED,
    OpRecord,
    owner_ctx,
    owner_user,
    parse_trace,
)

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


# -- the log, read back --------------------------------------------------------------------


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


# -- accounting: each event belongs to one operation, which is in the log completely -------


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

    maybe_removed: Counter[str] = Counter()  # removes killed on their way, per key
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
            maybe_removed[str(op["key"])] += 1

    removed = Counter(e.key for e in by_trace.get(None, []) if e.type == "Removed")
    for key in sorted(removed.keys() | removals.keys()):
        extra = removed[key] - removals[key]
        # Each remove killed on its way landed wholly or not at all; several kills may
        # have caught a remove of the same key (between two of its lives).
        if not 0 <= extra <= maybe_removed[key]:
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
        slack = maybe_removed.total() if event_type == "Removed" else 0
        if not ops_count <= events_count <= ops_count + slack:
            problems.append(
                f"{events_count} {event_type} events for {ops_count} acknowledged operations"
            )
    problems += takeover_problems(logged, by_trace)
    return result
