"""What a stored session event must hold to be read: exactly its class's fields, each of
the right type.

The hash chain covers an event's body, not the names of its stored fields: a field added
to the stored JSON, or one the library would drop on reading (`class_version`), would
pass the chain unseen. So every field is checked here, by name and by type, before an
event is built: an event that passes is safe for every tool to replay, and anything else
stored for it is a change `verify` reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from pydantic import ValidationError

from greentic_session.domain.aggregate import (
    EVENT_CLASSES,
    TOPIC_BEFORE_THE_PACKAGE,
    Session,
    _Dumped,  # the payload type `Session` events apply without validating again
)
from greentic_session.domain.scope import ReplyScope
from greentic_session.domain.session import SessionData

PLACE_FIELDS = frozenset({"originator_id", "originator_version"})
"""Fields the log stores in its own columns, never in the payload."""

_LEGACY = f"{TOPIC_BEFORE_THE_PACKAGE}:"

CLASS_OF_TOPIC: dict[str, type[Session.Event]] = {
    **{get_topic(cls): cls for cls in EVENT_CLASSES},
    **{f"{_LEGACY}{cls.__qualname__}": cls for cls in EVENT_CLASSES},
}
"""Each topic a session event may be stored under, today's and 0.1.0's, and its class."""


def is_legacy(topic: str) -> bool:
    """A topic of 0.1.0's layout: such events all come before any under today's topics."""
    return topic.startswith(_LEGACY)


AGGREGATE_TOPICS = frozenset({get_topic(Session), f"{_LEGACY}{Session.__qualname__}"})
"""The aggregate topics a `Created` event may name: today's, and 0.1.0's, which an export
of 0.1.0 carries into any store it is imported into."""


class UnreadableEvent(ValueError):
    """A stored event that is not a session event as the store writes them."""


def _text(value: object) -> bool:
    return isinstance(value, str)


def _moment(value: object) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _trace(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _data(value: object) -> bool:
    return isinstance(value, dict)  # validated once, by `_with_model`


def _scope(value: object) -> bool:
    return isinstance(value, dict) and _validates(ReplyScope, value)


def _validates(model: type[ReplyScope], value: object) -> bool:
    try:
        model.model_validate(value)
    except ValidationError:
        return False
    return True


_CHECKS: dict[str, Callable[[object], bool]] = {
    "timestamp": _moment,
    "trace": _trace,
    "prev_hash": _text,
    "hash": _text,
    "originator_topic": _text,  # checked against the event's own topic below
    "session_key": lambda value: isinstance(value, str) and value != "" and "\x00" not in value,
    "data": _data,
    "user_id": _text,
    "scope": _scope,
    "user_key": _text,
    "scope_key": _text,
    "expires_at": lambda value: value is None or _moment(value),
    "by_session_key": _text,
    "deadline": _moment,
    "salt": _text,
    "commitment": _text,
    "reason": _text,
    "events": lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= 0,
}

COMMITTED = frozenset({"salt", "commitment"})
"""The fields events have had since 0.2 (0.1.0's have neither)."""

REDACTED_FIELDS = frozenset(
    {"timestamp", "prev_hash", "hash", "commitment", "session_key", "erased_in"}
)
"""What an erased event's payload holds: its envelope, and which erasure erased it."""

_FIELDS: dict[type[Session.Event], frozenset[str]] = {
    cls: frozenset(f.name for f in fields(cls)) - PLACE_FIELDS for cls in EVENT_CLASSES
}


def expected_fields(event_class: type[Session.Event]) -> frozenset[str]:
    """The payload fields of a stored event of this class, no more, no fewer."""
    return _FIELDS[event_class]


def event_from_payload(topic: str, stream: UUID, version: int, payload: object) -> Session.Event:
    """The event stored under `topic` whose payload (the decoded stored JSON) is `payload`,
    once every field checks out. A topic that is not a session event's is never resolved
    (it could name any importable class).

    Raises `UnreadableEvent` naming the first thing wrong."""
    event_class = CLASS_OF_TOPIC.get(topic) if isinstance(topic, str) else None
    if event_class is None:
        raise UnreadableEvent(f"not a session event: topic {_shown(topic)}")
    if not isinstance(payload, Mapping):
        raise UnreadableEvent(f"the payload is a JSON {type(payload).__name__}, not an object")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UnreadableEvent(f"version {version!r} is not a positive whole number")
    names = set(payload)
    if "erased_in" in names:
        return _redacted(topic, event_class, stream, version, payload)
    wanted = _FIELDS[event_class]
    if names == wanted - COMMITTED and event_class is not Session.Erased:
        payload = {**payload, "salt": "", "commitment": ""}  # an event of 0.1.0
        names = set(wanted)
    if names != wanted:
        extra, missing = sorted(names - wanted, key=str), sorted(wanted - names)
        raise UnreadableEvent(
            f"the payload's fields are not those of {event_class.__qualname__} "
            f"(extra: {extra or 'none'}; missing: {missing or 'none'})"
        )
    for name, value in payload.items():
        check = _CHECKS[name]
        allowed_none = name == "data" and event_class is Session.WaitRegistered
        if not (allowed_none and value is None) and not check(value):
            raise UnreadableEvent(f"field {name!r} holds {_shown(value)}, not what it must")
    aggregate = payload.get("originator_topic")
    if aggregate is not None and aggregate not in AGGREGATE_TOPICS:
        raise UnreadableEvent(f"the aggregate topic {_shown(aggregate)} is not a session's")
    fields_: dict[str, Any] = dict(payload)
    if fields_.get("data") is not None:
        fields_["data"] = _with_model(fields_["data"])
    return event_class(originator_id=stream, originator_version=version, **fields_)


def _redacted(
    topic: str,
    event_class: type[Session.Event],
    stream: UUID,
    version: int,
    payload: Mapping[str, Any],
) -> Session.Redacted:
    """An erased event: exactly `REDACTED_FIELDS`, each of the right type."""
    names = set(payload)
    if names != REDACTED_FIELDS:
        extra = sorted(names - REDACTED_FIELDS, key=str)
        missing = sorted(REDACTED_FIELDS - names)
        raise UnreadableEvent(
            f"the payload's fields are not those of an erased event "
            f"(extra: {extra or 'none'}; missing: {missing or 'none'})"
        )
    erased_in = payload["erased_in"]
    for name in REDACTED_FIELDS - {"erased_in"}:
        if not _CHECKS[name](payload[name]):
            raise UnreadableEvent(f"field {name!r} holds {_shown(payload[name])}, not what it must")
    if not isinstance(erased_in, int) or isinstance(erased_in, bool) or erased_in <= version:
        raise UnreadableEvent(f"field 'erased_in' holds {_shown(erased_in)}, not a later version")
    if event_class is Session.Erased:
        raise UnreadableEvent("an erasure is never erased")
    fields_: dict[str, Any] = {
        "originator_id": stream,
        "originator_version": version,
        "trace": {},
        "salt": "",
        "original_topic": topic,
        **payload,
    }
    return Session.Redacted(**fields_)


def redacted_payload(event: Session.Event, erased_in: int, session_key: str) -> dict[str, Any]:
    """What an erased event's stored payload becomes: `REDACTED_FIELDS`."""
    return {
        "timestamp": event.timestamp,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "commitment": event.commitment,
        "session_key": session_key,
        "erased_in": erased_in,
    }


def _with_model(data: dict[str, Any]) -> dict[str, Any]:
    """The stored session data as stored (the hash is over it), validated once here and
    carried with its model, so that applying the event does not validate it again."""
    try:
        model = SessionData.model_validate(data)
    except ValidationError as exc:
        raise UnreadableEvent(
            f"field 'data' is not session data ({exc.error_count()} errors)"
        ) from exc
    carried = _Dumped(data)
    carried.model = model
    return carried


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
