"""No stale answers: what an operation saw agrees with the writes that had returned before
it started (from the operations' wall-clock windows)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from greentic_session import ErrorCode
from tests.stress.accounting import INF, Logged, wait_scope_key
from tests.stress.worker import (
    CLEAR,
    FIND,
    GET,
    LIST,
    OK,
    OWNERS,
    REGISTER_IF_ABSENT,
    REMOVE,
    SCOPES,
    UPDATE,
    UPDATE_EXPECTED,
    OpRecord,
)


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
