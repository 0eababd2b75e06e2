"""The `Session` aggregate: one event stream per session key, across all its lives.

Commands check the contract's rules and record what happened as events; `apply` on each
event is the only place state changes, so a replay of the log rebuilds the same state.
"""

from __future__ import annotations

import secrets
import sys
from dataclasses import fields
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic, register_topic

from greentic_session.domain.chain import (
    ENVELOPE_FIELDS,
    GENESIS,
    body_commitment,
    envelope_hash,
    event_hash,
)
from greentic_session.domain.errors import not_found
from greentic_session.domain.identifiers import SessionKey, UserId
from greentic_session.domain.operation import Operation, Trace
from greentic_session.domain.rules import (
    ensure_alignment,
    ensure_preserved,
    ensure_version,
    ensure_wait_user,
    is_expired,
)
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData
from greentic_session.domain.state import SessionState, Wait, stream_id
from greentic_session.domain.tenant import TenantCtx

JsonDict = dict[str, Any]


class _Dumped(dict[str, Any]):
    """A payload that remembers the model it was dumped from, so the event that carries
    it applies without validating it again. A payload read back from the log is a plain
    dict and is validated."""

    model: SessionData


def _dump(data: SessionData) -> JsonDict:
    dumped = _Dumped(data.model_dump(mode="json"))
    dumped.model = data
    return dumped


def _load(data: JsonDict) -> SessionData:
    if isinstance(data, _Dumped):
        return data.model
    return SessionData.model_validate(data)


def _stamped(
    event_class: type[Session.Event],
    stream: UUID,
    version: int,
    prev_hash: str,
    op: Operation,
    fields: JsonDict,
) -> JsonDict:
    """An event's arguments: its fields, the operation's time and trace, a fresh salt, the
    commitment to its body, and its link in the stream's hash chain (the hash
    `content_hash` recomputes later)."""
    body = {"trace": op.trace, **fields}
    salt = secrets.token_hex(16)
    commitment = body_commitment(salt, body)
    digest = envelope_hash(stream, version, event_class.__qualname__, op.now, prev_hash, commitment)
    return {
        "timestamp": op.now,
        "prev_hash": prev_hash,
        "hash": digest,
        "salt": salt,
        "commitment": commitment,
        **body,
    }


class Session(Aggregate):
    """A session key's stream. `data is None` between lives (never live, ended)."""

    class Event(Aggregate.Event):
        """Every event: the operation's trace, and its link in the stream's hash chain."""

        kind: ClassVar[str]
        trace: Trace
        prev_hash: str
        hash: str
        salt: str
        """Random, stored with the body and erased with it ("" in events of 0.1.0)."""
        commitment: str
        """`chain.body_commitment(salt, body)`, which the hash covers ("" in 0.1.0's)."""

        def mutate(self, aggregate: Any) -> Any:
            mutated: Any = super().mutate(aggregate)
            mutated.head_hash = self.hash
            return mutated

        def body(self) -> JsonDict:
            """What the event says, apart from its place in the stream and its hashes."""
            return {
                f.name: getattr(self, f.name) for f in fields(self) if f.name not in ENVELOPE_FIELDS
            }

        def content_hash(self) -> str:
            """The hash its content has now: differs from `hash` if the stored event was
            edited, its body or its stored commitment."""
            name = type(self).__qualname__
            if not self.commitment:  # 0.1.0: the hash covers the body itself
                return event_hash(
                    self.originator_id,
                    self.originator_version,
                    name,
                    self.timestamp,
                    self.prev_hash,
                    self.body(),
                )
            committed = body_commitment(self.salt, self.body())
            digest = envelope_hash(
                self.originator_id,
                self.originator_version,
                name,
                self.timestamp,
                self.prev_hash,
                committed,
            )
            return digest if committed == self.commitment else f"uncommitted:{digest}"

    class Created(Event, Aggregate.Created):
        kind = "created"
        session_key: str
        data: JsonDict

    class Recreated(Event):
        """A key whose session ended starts a new life on the same stream."""

        kind = "created"
        data: JsonDict

        def apply(self, aggregate: Any) -> None:
            aggregate._begin_life(_load(self.data))

    class Updated(Event):
        kind = "updated"
        data: JsonDict

        def apply(self, aggregate: Any) -> None:
            aggregate.data = _load(self.data)

    class WaitRegistered(Event):
        kind = "wait_registered"
        data: JsonDict | None  # None: unchanged since the event before (a new life)
        user_id: str
        scope: JsonDict
        user_key: str
        scope_key: str
        expires_at: datetime | None

        def apply(self, aggregate: Any) -> None:
            if self.data is not None:
                aggregate.data = _load(self.data)
            aggregate.expires_at = self.expires_at
            aggregate.wait = Wait(
                user_key=self.user_key,
                scope_key=self.scope_key,
                user_id=self.user_id,
                scope=ReplyScope.model_validate(self.scope),
                version=self.originator_version,
            )

    class WaitSuperseded(Event):
        """Another session took this one's scope; its data stays readable."""

        kind = "wait_superseded"
        by_session_key: str

        def apply(self, aggregate: Any) -> None:
            aggregate.wait = None

    class WaitCleared(Event):
        kind = "wait_cleared"

        def apply(self, aggregate: Any) -> None:
            aggregate._end_life()

    class WaitExpired(Event):
        kind = "wait_expired"
        deadline: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate._end_life()

    class Removed(Event):
        kind = "removed"

        def apply(self, aggregate: Any) -> None:
            aggregate._end_life()

    class Erased(Event):
        """The erasure of the stream's events before it: their bodies are gone from the
        log (each left as a `Redacted` envelope), and the session, if live, ended."""

        kind = "erased"
        reason: str
        events: int
        """How many events it erased: those since the stream's last erasure (or start)."""

        def apply(self, aggregate: Any) -> None:
            aggregate._end_life()

    class Redacted(Event):
        """What an erased event reads as: its envelope, hash and commitment, never stored
        under this class (the log keeps the event's own topic). The session it leaves is
        ended; `erased_in` is the version of the `Erased` event that erased it."""

        kind = "redacted"
        session_key: str
        erased_in: int
        original_topic: str
        """The topic the event is stored under: what it was."""

        @property
        def original(self) -> type[Session.Event]:
            """The class of the event it was (a class of `EVENT_CLASSES`)."""
            return _CLASS_BY_NAME[self.original_topic.rpartition(":")[2]]

        def mutate(self, aggregate: Any) -> Any:
            session = Session.restore(
                SessionState(
                    session_key=SessionKey(self.session_key),
                    version=self.originator_version,
                    head_hash=self.hash,
                )
            )
            return session

        def body(self) -> JsonDict:
            return {}

        def content_hash(self) -> str:
            """The hash of its envelope and commitment; for an event of 0.1.0 (no
            commitment) nothing is left to recompute it from: its hash, as stored."""
            if not self.commitment:
                return self.hash
            return envelope_hash(
                self.originator_id,
                self.originator_version,
                self.original.__qualname__,
                self.timestamp,
                self.prev_hash,
                self.commitment,
            )

    def __init__(
        self,
        session_key: str,
        data: JsonDict,
        *,
        timestamp: datetime,
        trace: Trace,
        prev_hash: str,
        hash: str,
        salt: str,
        commitment: str,
    ) -> None:
        """Run by the `Created` event, on `start` and on replay, with the event's fields that
        it names. The envelope (`timestamp`, `trace`, the hashes, salt and commitment) is
        named only so that the library's public constructor, `Session(...)`, accepts it for
        the event; it is the event's, not state (`Event.mutate` sets the head hash)."""
        self.session_key = SessionKey(session_key)
        self.head_hash = GENESIS
        self._begin_life(_load(data))

    @staticmethod
    def create_id(session_key: str) -> Any:
        return stream_id(session_key)

    # -- lifecycle -------------------------------------------------------------

    @classmethod
    def start(cls, ctx: TenantCtx, key: SessionKey, data: SessionData, op: Operation) -> Session:
        """A new stream's `Created` event, through the library's public constructor: calling
        the class triggers its one created event, the stream id from `create_id`."""
        ensure_alignment(ctx, data)
        fields = {"session_key": str(key), "data": _dump(data)}
        return cls(**_stamped(cls.Created, stream_id(key), 1, GENESIS, op, fields))

    @classmethod
    def restore(cls, state: SessionState) -> Session:
        """Rebuild from the state read model instead of replaying the stream (O(1)).

        Through the library's snapshots, its public way to rebuild an aggregate from a
        stored state: at the state's version, with the head hash, nothing pending. The
        library's own attributes come from `_LIBRARY_STATE`; `created_on` is not the
        stream's (nothing reads it), `modified_on` moves with the next event."""
        snapshot = cls.Snapshot(
            originator_id=state.originator_id,
            originator_version=state.version,
            timestamp=cls.Snapshot.create_timestamp(),
            topic=_SESSION_TOPIC,
            state={
                **_LIBRARY_STATE,
                "session_key": state.session_key,
                "data": state.data,
                "expires_at": state.expires_at,
                "wait": state.wait,
                "head_hash": state.head_hash,
            },
        )
        session = snapshot.mutate(None)
        assert isinstance(session, Session)
        return session

    def state(self) -> SessionState:
        return SessionState(
            session_key=self.session_key,
            version=self.version,
            data=self.data,
            expires_at=self.expires_at,
            wait=self.wait,
            head_hash=self.head_hash,
        )

    def is_live(self, now: datetime) -> bool:
        return self.state().is_live(now)

    def holds(self, scope_key: str, now: datetime) -> bool:
        """Live and waiting on this scope (a deadline passed but not recorded: not live)."""
        return self.wait is not None and self.wait.scope_key == scope_key and self.is_live(now)

    def _record(self, event_class: type[Event], op: Operation, **fields: Any) -> None:
        """Trigger the event stamped with the operation and chained to the stream's head."""
        stamped = _stamped(event_class, self.id, self.version + 1, self.head_hash, op, fields)
        self.trigger_event(event_class, **stamped)

    # -- commands ------------------------------------------------------------

    def expire_if_due(self, op: Operation) -> bool:
        """Record an expiry that has happened but is not in the log yet; True if it did."""
        if (
            self.data is not None
            and self.expires_at is not None
            and is_expired(self.expires_at, op.now)
        ):
            self._record(self.WaitExpired, op, deadline=self.expires_at)
            return True
        return False

    def update(self, data: SessionData, op: Operation, expected_version: int | None = None) -> None:
        """`expected_version`: the stream version the caller read (None: last writer wins)."""
        ensure_version(self.session_key, self.version, expected_version)
        self._require_live(op)
        assert self.data is not None
        ensure_preserved(self.data.tenant_ctx, data.tenant_ctx)
        self._record(self.Updated, op, data=_dump(data))

    def remove(self, op: Operation) -> None:
        self._require_live(op)
        self._record(self.Removed, op)

    def erase(self, erased: int, reason: str, op: Operation) -> None:
        """Record the erasure of the `erased` events since the stream's last erasure (the
        caller redacts them in the same write); ends the session if it is live."""
        self._record(self.Erased, op, reason=reason, events=erased)

    def register_wait(
        self,
        ctx: TenantCtx,
        user_id: UserId,
        scope: ReplyScope,
        data: SessionData,
        expires_at: datetime | None,
        op: Operation,
        *,
        user_key: str,
        scope_key: str,
    ) -> None:
        ensure_wait_user(ctx, user_id, data)
        self.expire_if_due(op)
        payload: JsonDict | None = _dump(data)
        if self.data is None:
            self._record(self.Recreated, op, data=payload)
            payload = None
        elif self._started_in_this_operation():
            payload = None
        else:
            ensure_preserved(self.data.tenant_ctx, data.tenant_ctx)
        self._record(
            self.WaitRegistered,
            op,
            data=payload,
            user_id=str(user_id),
            scope=scope.model_dump(mode="json"),
            user_key=user_key,
            scope_key=scope_key,
            expires_at=expires_at,
        )

    def supersede(self, scope_key: str, by_session_key: SessionKey, op: Operation) -> None:
        """Another session takes the scope this one waits on; the data stays readable."""
        if self._waits_at(scope_key, op):
            self._record(self.WaitSuperseded, op, by_session_key=str(by_session_key))

    def clear_wait(self, scope_key: str, op: Operation) -> None:
        """The flow finished: its wait and the session end. No wait there: nothing to do."""
        if self._waits_at(scope_key, op):
            self._record(self.WaitCleared, op)

    # -- helpers -----------------------------------------------------------------

    def _waits_at(self, scope_key: str, op: Operation) -> bool:
        """Still waiting on this scope; an expiry met on the way is recorded first."""
        self.expire_if_due(op)
        return self.wait is not None and self.wait.scope_key == scope_key

    def _started_in_this_operation(self) -> bool:
        """The life began with this very data in the pending Created event: don't repeat it."""
        pending = self.pending_events
        return len(pending) == 1 and isinstance(pending[0], Session.Created)

    def _require_live(self, op: Operation) -> None:
        self.expire_if_due(op)
        if self.data is None:
            raise not_found(self.session_key)

    # -- state changes (called by events only) --------------------------------

    def _begin_life(self, data: SessionData) -> None:
        self.data: SessionData | None = data
        self.expires_at: datetime | None = None
        self.wait: Wait | None = None

    def _end_life(self) -> None:
        self.data = None
        self.expires_at = None
        self.wait = None


def opens_stream(event: Session.Event) -> bool:
    """A stream's first event: its `Created`, or what is left of it once erased."""
    if isinstance(event, Session.Redacted):
        return event.original is Session.Created
    return isinstance(event, Session.Created)


def key_named(event: Session.Event) -> str | None:
    """The session key an event names (its `Created`, or an erased event), else None."""
    return event.session_key if isinstance(event, Session.Created | Session.Redacted) else None


class _Bare(Aggregate):
    """An aggregate with no attributes of its own: its snapshot holds only the attributes
    the library keeps on every aggregate, besides id, version and pending events."""


_LIBRARY_STATE: dict[str, Any] = Aggregate.Snapshot.take(_Bare()).state
"""What a snapshot holds of the library's own attributes (creation and modification
times), named by the library, not here; `Session.restore` starts from it."""

_SESSION_TOPIC = get_topic(Session)

TOPIC_BEFORE_THE_PACKAGE = "domain.aggregate"
"""The module path of this file in 0.1.0, when `domain` was a top-level package. Events and
aggregates stored then name their classes by it (`domain.aggregate:Session.Created`, ...):
registered, those topics decode to the classes here. Hashes never cover topics, so they
verify as before."""

register_topic(TOPIC_BEFORE_THE_PACKAGE, sys.modules[__name__])

EVENT_CLASSES: tuple[type[Session.Event], ...] = (
    Session.Created,
    Session.Recreated,
    Session.Updated,
    Session.WaitRegistered,
    Session.WaitSuperseded,
    Session.WaitCleared,
    Session.WaitExpired,
    Session.Removed,
    Session.Erased,
)
_CLASS_BY_NAME: dict[str, type[Session.Event]] = {cls.__qualname__: cls for cls in EVENT_CLASSES}
EVENT_TOPICS = frozenset(
    {get_topic(cls) for cls in EVENT_CLASSES}
    | {f"{TOPIC_BEFORE_THE_PACKAGE}:{cls.__qualname__}" for cls in EVENT_CLASSES}
)
"""The topics a session event may be stored under: today's, and those of 0.1.0. Anything
else in the log is not ours and is never decoded (it could name any importable class)."""
