"""Checking the log and the read models against each other, after the fact.

Three independent witnesses: each event's hash over its content, each event's link to
the one before it in its stream, and the heads the store recorded with every write. An
edit made directly in the database breaks at least one of them. The read models are
then compared with a replay of the events that passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification

from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import VerifyReport
from greentic_session.domain.chain import Break, ChainProblem, StreamChain
from greentic_session.domain.instants import instant_text
from greentic_session.domain.state import stream_id
from greentic_session.projections.read_models import (
    MemoryReadModels,
    ScopeEvent,
    StreamHead,
    WaitEntry,
)
from greentic_session.projections.replay import rebuild_logged
from greentic_session.projections.stream_history import LoggedEvent

V = TypeVar("V")

Decode = Callable[[Notification], Session.Event]


@dataclass
class _Stream:
    name: str
    chain: StreamChain = field(default_factory=StreamChain)
    sound: bool = True  # every event so far checked out: keep replaying it
    events: list[LoggedEvent] = field(default_factory=list)


def verify(
    log: Iterable[Notification], decode: Decode, stored: MemoryReadModels
) -> VerifyReport:
    names = {stream_id(key): key for key in stored.heads}
    streams: dict[UUID, _Stream] = {}
    problems: list[str] = []
    count = 0
    for notification in log:
        count += 1
        stream_key = UUID(str(notification.originator_id))
        stream = streams.setdefault(
            stream_key, _Stream(names.get(stream_key, f"stream {stream_key}"))
        )
        problems += _check_event(stream, notification, decode)
    problems += _check_heads(streams, stored.heads)
    sound = [event for stream in streams.values() for event in stream.events]
    sound.sort(key=lambda logged: logged[0])
    problems += drift(stored, rebuild_logged(sound))
    return VerifyReport(ok=not problems, problems=problems, streams=len(streams), events=count)


def _check_event(stream: _Stream, notification: Notification, decode: Decode) -> list[str]:
    version = notification.originator_version
    try:
        event = decode(notification)
    except Exception as exc:  # any edit can make an event unreadable: report, go on
        stream.chain.skip(version)
        stream.sound = False
        return [f"{stream.name} v{version}: unreadable event ({type(exc).__name__}: {exc})"]
    if isinstance(event, Session.Created) and stream_id(event.session_key) == event.originator_id:
        stream.name = event.session_key  # a copied Created event must not name another stream
    problems = [_described(stream.name, version, p) for p in stream.chain.follow(event)]
    if problems:
        stream.sound = False
    if stream.sound:
        stream.events.append((notification.id, event))
    return problems


def _described(name: str, version: int, problem: ChainProblem) -> str:
    """A break in the chain in words: what it looks like, and what edit makes it."""
    label = f"{name} v{version}"
    if problem.kind is Break.MISSING:
        first = problem.after + 1
        gap = f"v{first}" if first == version - 1 else f"v{first}..v{version - 1}"
        return f"{name}: {gap} missing (deleted)"
    if problem.kind is Break.REORDERED:
        return f"{label}: out of order in the log (reordered)"
    if problem.kind is Break.UNLINKED:
        return f"{label}: does not follow v{problem.after} (inserted, swapped or replaced)"
    return f"{label}: content does not match its hash (altered)"


def _check_heads(streams: dict[UUID, _Stream], heads: dict[str, StreamHead]) -> list[str]:
    problems = []
    for stream in streams.values():
        head, version = heads.get(stream.name), stream.chain.version
        if head is None:
            problems.append(f"{stream.name}: not written by the store (stream inserted)")
        elif head.version > version:
            problems.append(
                f"{stream.name}: the log ends at v{version} but the store recorded "
                f"v{head.version} (last events deleted)"
            )
        elif head.version < version:
            problems.append(
                f"{stream.name}: v{head.version + 1}..v{version} were not written by "
                "the store (inserted)"
            )
        elif head.hash != stream.chain.hash:
            problems.append(f"{stream.name} v{version}: not the event the store wrote")
    in_log = {stream.name for stream in streams.values()}
    for key, head in heads.items():
        if key not in in_log:
            problems.append(
                f"{key}: stream missing from the log; the store recorded {head.version} "
                "events (stream deleted)"
            )
    return problems


def drift(stored: MemoryReadModels, replayed: MemoryReadModels) -> list[str]:
    """Each read-model row that differs from the replay, named."""
    problems = [
        f"read model 'session state' of {key} differs from the log "
        f"(stored {_version(have)}, log {_version(want)})"
        for key, have, want in _differing(stored.states, replayed.states)
    ]
    problems += [
        f"read model 'scope index' entry {scope[:16]}: holds {_entry(have)}, "
        f"the log says {_entry(want)}"
        for scope, have, want in _differing(stored.scopes, replayed.scopes)
    ]
    problems += [
        f"read model 'user waits' of user {user[:16]}: {_keys(have)}, the log says {_keys(want)}"
        for user, have, want in _differing(_listed(stored.waits), _listed(replayed.waits))
    ]
    if stored.has_scope_history:
        problems += [
            f"read model 'scope history' of scope {scope[:16]}: {_rows(have)}, "
            f"the log says {_rows(want)}"
            for scope, have, want in _differing(stored.scope_history, replayed.scope_history)
        ]
    return problems


def _rows(rows: Mapping[tuple[str, int], ScopeEvent] | None) -> list[str]:
    return [
        f"{row.session_key} v{row.version} {row.kind} #{row.position} {row.recorded_at.isoformat()}"
        for row in sorted((rows or {}).values(), key=lambda row: row.position or 0)
    ]


def _differing(
    have: Mapping[str, V], want: Mapping[str, V]
) -> Iterator[tuple[str, V | None, V | None]]:
    """Each key whose rows differ (a row missing on one side is None), in key order."""
    for key in sorted(have.keys() | want.keys()):
        if have.get(key) != want.get(key):
            yield key, have.get(key), want.get(key)


def _listed(waits: Mapping[str, Mapping[str, WaitEntry]]) -> dict[str, list[WaitEntry]]:
    """A user's waits in their order, which counts (a user with none: no row)."""
    return {user: list(entries.values()) for user, entries in waits.items() if entries}


def _keys(waits: list[WaitEntry] | None) -> list[str]:
    return [wait.session_key for wait in waits or []]


def _version(state: object) -> str:
    version = getattr(state, "version", None)
    return "nothing" if version is None else f"v{version}"


def _entry(entry: WaitEntry | None) -> str:
    if entry is None:
        return "nothing"
    until = "" if entry.expires_at is None else f" until {instant_text(entry.expires_at)}"
    return f"{entry.session_key}{until}"
