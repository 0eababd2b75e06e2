"""Checking the log and the read models against each other, after the fact.

Three independent witnesses: each event's hash over its content, each event's link to
the one before it in its stream, and the heads the store recorded with every write. An
edit made directly in the database breaks at least one of them. Every event is also
checked for its shape (a session event's topic, exactly its fields, each of its type),
and its stream for its sequence. The read models are then compared, row by row, with a
replay of the events that passed.

Nothing the database holds makes `verify` raise: each problem is reported against its
stream or row and the check goes on. Memory grows with the number of sessions (a chain
head and a state per stream), never with the length of the log: the log is streamed, the
replay kept as read models, and the stored rows compared one at a time as they stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Notification

from greentic_session.domain.aggregate import Session
from greentic_session.domain.audit import (
    ArchivedStream,
    ArchiveSummary,
    ErasureSummary,
    VerifyReport,
)
from greentic_session.domain.chain import Break, ChainProblem, StreamChain
from greentic_session.domain.event_shape import CLASS_OF_TOPIC, is_legacy
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.progress import Progress, no_progress
from greentic_session.domain.state import stream_id
from greentic_session.projections.read_model_rows import (
    HEADS,
    READ_MODELS,
    ReadModelRows,
    StoredRow,
    UnreadableRow,
    own_stream,
)
from greentic_session.projections.replay import Replay, Unreplayable

Decode = Callable[[Notification], tuple[Session.Event, bool]]
"""A stored event read, and whether its payload is byte for byte as the store writes it."""

PROGRESS_EVERY = 5000
"""Events between two calls of the progress callback."""


class Snapshot(Protocol):
    """What verify reads: the log and the stored rows of one consistent view."""

    def count(self) -> int: ...

    def notifications(self) -> Iterator[Notification]: ...

    def rows(self, model: ReadModelRows) -> Iterator[StoredRow]: ...

    def holds(self, model: ReadModelRows) -> bool: ...

    def tombstones(self) -> Iterator[ArchivedStream | UnreadableRow]: ...


@dataclass(slots=True)
class _Stream:
    """What verify keeps of a stream: its chain's head, and its name once known."""

    id: object
    name: str | None = None
    chain: StreamChain = field(default_factory=StreamChain)
    sound: bool = True  # every event so far checked out: keep replaying it
    head_seen: bool = False
    archived: int = 0  # the version its tombstones say went to archives (0: none)
    logged: bool = False  # an event of it is in the log
    redacted: list[tuple[int, int]] | None = None
    """(version, erased_in) of the erased events since its last erasure (None: none; most
    streams never have any, and verify keeps one `_Stream` per stream)."""

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"stream {self.id}"


@dataclass(frozen=True, slots=True)
class _Problem:
    """Worded once the stream's name is known (a head read after the log may give it)."""

    stream: _Stream | None
    text: str

    def __str__(self) -> str:
        return self.text if self.stream is None else f"{self.stream.label}{self.text}"


class _Verification:
    def __init__(self, decode: Decode) -> None:
        self.decode = decode
        self.streams: dict[object, _Stream] = {}
        self.problems: list[_Problem] = []
        self.replay = Replay()
        self.today_seen = False  # an event under today's topics: 0.1.0's come before
        self.erasures: list[ErasureSummary] = []
        self.unchecked_erased = 0

    def report(self, stream: _Stream | None, text: str) -> None:
        self.problems.append(_Problem(stream, text))

    # -- tombstones ----------------------------------------------------------------------

    def seed(self, tombstones: Iterator[ArchivedStream | UnreadableRow]) -> list[ArchiveSummary]:
        """Each archived stream starts where its tombstones say its archived events ended;
        their counts must add up to that version, each stretch after the one before."""
        archives: dict[str, tuple[set[object], int]] = {}
        for tombstone in tombstones:
            if isinstance(tombstone, UnreadableRow):
                self.report(None, str(tombstone))
                continue
            key = stream_id(tombstone.session_key)
            stream = self.streams.get(key)
            if stream is None:
                stream = self.streams[key] = _Stream(key, name=tombstone.session_key)
            version = tombstone.last_version
            if version - stream.archived != tombstone.events or version <= stream.archived:
                self.spoil(
                    stream,
                    f": its tombstone at v{version} counts {tombstone.events} events after "
                    f"v{stream.archived} (tombstone altered)",
                )
            stream.archived = version
            stream.chain.resume(version, tombstone.last_hash)
            try:
                self.replay.resume(tombstone)
            except Unreplayable as exc:
                self.spoil(stream, f": its tombstone does not replay ({exc})")
            streams, events = archives.get(tombstone.archive_digest, (set(), 0))
            streams.add(key)
            archives[tombstone.archive_digest] = (streams, events + tombstone.events)
        return [
            ArchiveSummary(digest=digest, streams=len(streams), events=events)
            for digest, (streams, events) in archives.items()
        ]

    # -- events ------------------------------------------------------------------------

    def check_event(self, notification: Notification) -> None:
        stream_key = _stream_key(notification.originator_id)
        stream = self.streams.get(stream_key)
        if stream is None:
            stream = self.streams[stream_key] = _Stream(stream_key)
        version = notification.originator_version
        stream.logged = True
        if isinstance(version, int) and version <= stream.archived:
            stream.chain.skip(version)
            self.spoil(
                stream,
                f" v{version}: still in the log, but its tombstone says versions up to "
                f"v{stream.archived} were archived (tombstone inserted or altered, or the "
                "event copied back)",
            )
            return
        self._check_topic(stream, version, notification.topic)
        try:
            event, exact = self.decode(notification)
        except Exception as exc:  # any edit can make an event unreadable: report, go on
            stream.chain.skip(version)
            self.spoil(stream, f" v{version}: unreadable event ({_reason(exc)})")
            return
        if not exact:
            self.report(
                stream,
                f" v{version}: its stored JSON is not byte for byte what the store writes "
                "(reformatted, or a field given twice)",
            )
        if isinstance(event, Session.Redacted | Session.Erased):
            self._check_erasure(stream, event)
        if isinstance(event, Session.Created | Session.Redacted):
            if stream_id(event.session_key) == event.originator_id:
                stream.name = event.session_key  # a copied Created must not name another
            else:
                self.spoil(
                    stream,
                    f" v{version}: created as session {event.session_key!r}, whose stream "
                    "is another (moved or copied)",
                )
        try:
            chain_problems = stream.chain.follow(event)
        except Exception as exc:  # a hash that cannot be computed is a broken link too
            stream.chain.skip(version)
            self.spoil(stream, f" v{version}: its hash cannot be checked ({_reason(exc)})")
            return
        for problem in chain_problems:
            if problem.kind is Break.UNLINKED and 0 < problem.after == stream.archived:
                self.spoil(
                    stream,
                    f" v{version}: does not follow the tombstone of v{problem.after} "
                    "(tombstone altered, or the event inserted)",
                )
                continue
            self.spoil(stream, _described(version, problem))
        if stream.sound:
            try:
                self.replay.apply(event, notification.id)
            except Unreplayable as exc:
                self.spoil(stream, f" v{version}: does not replay ({exc})")

    def _check_erasure(self, stream: _Stream, event: Session.Event) -> None:
        """Erased events wait for the erasure that follows them; the erasure must count
        them all, and each must name it: content removed any other way is a change."""
        version = event.originator_version
        if isinstance(event, Session.Redacted):
            if stream.redacted is None:
                stream.redacted = []
            stream.redacted.append((version, event.erased_in))
            self.unchecked_erased += not event.commitment
            return
        assert isinstance(event, Session.Erased)
        pending, stream.redacted = stream.redacted or [], None
        named = [v for v, erased_in in pending if erased_in == version]
        if len(named) != len(pending) or len(pending) != event.events:
            self.spoil(
                stream,
                f" v{version}: an erasure of {event.events} events, but {len(named)} erased "
                f"events name it and {len(pending) - len(named)} name another (content "
                "removed without an erasure, or the erasure altered)",
            )
        self.erasures.append(
            ErasureSummary(
                session_key=SessionKey(stream.label),
                version=version,
                erased_at=event.timestamp,
                erased_by=event.trace.get("actor"),
                reason=event.reason,
                events=event.events,
            )
        )

    def unfinished_erasures(self) -> None:
        for stream in self.streams.values():
            if stream.redacted:
                versions = ", ".join(f"v{v}" for v, _ in stream.redacted[:5])
                self.report(
                    stream,
                    f": {versions} erased with no erasure after them in the log (content "
                    "removed, or the erasure deleted)",
                )

    def spoil(self, stream: _Stream, text: str) -> None:
        """A problem in a stream: its later events are checked, no longer replayed."""
        stream.sound = False
        self.report(stream, text)

    def _check_topic(self, stream: _Stream, version: object, topic: object) -> None:
        """Events stored under 0.1.0's topics all come before any under today's: an old
        topic after a new one was changed (the hash does not cover topics)."""
        if not isinstance(topic, str) or topic not in CLASS_OF_TOPIC:
            return  # decode reports it
        if not is_legacy(topic):
            self.today_seen = True
        elif self.today_seen:
            self.spoil(
                stream,
                f" v{version}: stored under a topic of 0.1.0 after events under "
                "today's (topic changed)",
            )

    # -- heads ---------------------------------------------------------------------------

    def check_heads(self, rows: Iterator[StoredRow]) -> None:
        for key, value in rows:
            stream_text, session_key = key
            label = HEADS.label(key)
            if isinstance(value, UnreadableRow):
                self.report(None, f"head {label}: the stored row does not decode ({value})")
                continue
            if not own_stream(stream_text, session_key):
                self.report(None, f"head {label} (inserted, or its stream id changed)")
                continue
            assert isinstance(session_key, str)
            stream = self.streams.get(stream_id(session_key))
            version, hash_ = value
            if stream is None:
                self.report(
                    None,
                    f"{session_key}: stream missing from the log; the store recorded "
                    f"{version} events (stream deleted)",
                )
                continue
            if stream.head_seen:
                self.report(stream, ": a second head row (duplicate)")
                continue
            stream.head_seen = True
            if stream.name is None:
                stream.name = session_key
            self._compare_head(stream, version, hash_)
        for stream in self.streams.values():
            if not stream.head_seen:
                self.report(stream, ": not written by the store (stream inserted)")

    def _compare_head(self, stream: _Stream, version: object, hash_: object) -> None:
        have = stream.chain.version
        assert isinstance(version, int)
        if version > have:
            self.report(
                stream,
                f": the log ends at v{have} but the store recorded v{version} "
                "(last events deleted)",
            )
        elif version < have:
            self.report(
                stream, f": v{version + 1}..v{have} were not written by the store (inserted)"
            )
        elif hash_ != stream.chain.hash and not stream.logged and stream.archived:
            self.report(stream, f": its tombstone's hash at v{have} is not the head's (altered)")
        elif hash_ != stream.chain.hash:
            self.report(stream, f" v{have}: not the event the store wrote")

    # -- read models ---------------------------------------------------------------------

    def compare(self, model: ReadModelRows, rows: Iterator[StoredRow]) -> None:
        """Each stored row against the replay's row of the same key, as it streams; then
        each replayed row no stored row matched."""
        name, seen = model.name, set()
        for key, value in rows:
            mark = hash(repr(key))
            label = model.label(key)
            if mark in seen:
                self.report(None, f"read model '{name}' {label}: a second row (duplicate)")
                continue
            seen.add(mark)
            if isinstance(value, UnreadableRow):
                self.report(
                    None, f"read model '{name}' {label}: the stored row does not decode ({value})"
                )
                continue
            want = model.lookup(self.replay, key)
            if want is None:
                self.report(
                    None,
                    f"read model '{name}' {label}: holds {_shown(model, value)}, "
                    "which the log does not (inserted, or its key changed)",
                )
            elif repr(want) != repr(value):
                self.report(
                    None,
                    f"read model '{name}' {label} differs from the log "
                    f"(stored {_shown(model, value)}, log {_shown(model, want)})",
                )
        for key, want in model.rows(self.replay):
            if hash(repr(key)) not in seen:
                self.report(
                    None,
                    f"read model '{name}' {model.label(key)}: missing "
                    f"(the log says {_shown(model, want)})",
                )


def verify(snapshot: Snapshot, decode: Decode, progress: Progress = no_progress) -> VerifyReport:
    """Every event, every head and every read-model row of `snapshot`, checked."""
    total = snapshot.count()
    check = _Verification(decode)
    archived = check.seed(snapshot.tombstones())
    count = 0
    for notification in snapshot.notifications():
        count += 1
        check.check_event(notification)
        if count % PROGRESS_EVERY == 0:
            progress(count, max(total, count))
    check.unfinished_erasures()
    check.check_heads(snapshot.rows(HEADS))
    for model in READ_MODELS:
        if snapshot.holds(model):
            check.compare(model, snapshot.rows(model))
    progress(count, count)
    problems = [str(problem) for problem in check.problems]
    streams = len(check.streams)
    return VerifyReport(
        ok=not problems,
        problems=problems,
        streams=streams,
        events=count,
        archived=archived,
        erasures=check.erasures,
        unchecked_erased=check.unchecked_erased,
    )


def _stream_key(originator_id: object) -> object:
    """The stream's id as a UUID, or as stored if it is none (a damaged row)."""
    if isinstance(originator_id, UUID):
        return originator_id
    try:
        return UUID(str(originator_id))
    except ValueError:
        return originator_id


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 300 else f"{text[:297]}..."


def _shown(model: ReadModelRows, value: object) -> str:
    try:
        return model.describe(value)  # type: ignore[arg-type]
    except Exception:  # a damaged value: show what it holds
        return repr(value)[:80]


def _described(version: int, problem: ChainProblem) -> str:
    """A break in the chain in words: what it looks like, and what edit makes it."""
    if problem.kind is Break.MISSING:
        first = problem.after + 1
        gap = f"v{first}" if first == version - 1 else f"v{first}..v{version - 1}"
        return f": {gap} missing (deleted)"
    if problem.kind is Break.REORDERED:
        return f" v{version}: out of order in the log (reordered)"
    if problem.kind is Break.UNLINKED:
        return f" v{version}: does not follow v{problem.after} (inserted, swapped or replaced)"
    return f" v{version}: content does not match its hash (altered)"
