"""What a stored session event must hold to be read: exactly its class's fields, each of
its type; anything else is an unreadable event, never a crash further on."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from greentic_session.domain.aggregate import Session
from greentic_session.domain.event_shape import (
    PLACE_FIELDS,
    UnreadableEvent,
    event_from_payload,
    expected_fields,
)
from greentic_session.domain.identifiers import SessionKey
from greentic_session.domain.operation import Operation
from greentic_session.domain.state import stream_id
from tests.support import CLOCK_START, make_ctx, make_data

TOPIC = "greentic_session.domain.aggregate:Session.Created"


def _created() -> tuple[Session.Event, dict[str, Any]]:
    ctx = make_ctx()
    session = Session.start(ctx, SessionKey("k"), make_data(ctx), Operation(now=CLOCK_START))
    (event,) = session.collect_events()
    assert isinstance(event, Session.Created)
    payload = {k: v for k, v in vars(event).items() if k not in PLACE_FIELDS}
    return event, payload


def test_a_payload_with_exactly_its_fields_reads_as_the_event() -> None:
    event, payload = _created()

    read = event_from_payload(TOPIC, stream_id("k"), 1, payload)

    assert read == event
    assert set(payload) == expected_fields(Session.Created)


@pytest.mark.parametrize("extra", ["x", "class_version", "originator_id"])
def test_an_added_top_level_field_is_unreadable(extra: str) -> None:
    _, payload = _created()

    with pytest.raises(UnreadableEvent, match="extra"):
        event_from_payload(TOPIC, stream_id("k"), 1, {**payload, extra: 1})


def test_a_missing_field_is_unreadable() -> None:
    _, payload = _created()
    del payload["trace"]

    with pytest.raises(UnreadableEvent, match="missing"):
        event_from_payload(TOPIC, stream_id("k"), 1, payload)


@pytest.mark.parametrize(
    ("field", "value"),
    [("timestamp", "2026-01-01"), ("trace", []), ("hash", 5), ("data", {"x": 1}), ("data", None)],
)
def test_a_field_of_the_wrong_type_is_unreadable(field: str, value: object) -> None:
    _, payload = _created()

    with pytest.raises(UnreadableEvent):
        event_from_payload(TOPIC, stream_id("k"), 1, {**payload, field: value})


@pytest.mark.parametrize("topic", ["builtins:dict", "os:system", "", "no colon"])
def test_a_topic_that_is_not_a_session_event_is_never_resolved(topic: str) -> None:
    _, payload = _created()

    with pytest.raises(UnreadableEvent, match="not a session event"):
        event_from_payload(topic, uuid4(), 1, payload)


@pytest.mark.parametrize("payload", [[], 1, "text", None])
def test_a_payload_that_is_not_a_json_object_is_unreadable(payload: object) -> None:
    with pytest.raises(UnreadableEvent, match="not an object"):
        event_from_payload(TOPIC, uuid4(), 1, payload)


def test_a_version_out_of_range_is_unreadable() -> None:
    _, payload = _created()

    with pytest.raises(UnreadableEvent, match="version"):
        event_from_payload(TOPIC, stream_id("k"), 0, payload)
