"""One exported event as one JSON line, and back: the export file's format.

A line holds the event's place (position, session key, stream id, version), what it is
(type, topic), when, its hashes, and its state as the store's transcoder writes it, in
clear whatever compression or cipher the log uses.
"""

from __future__ import annotations

import json

from eventsourcing.persistence import Transcoder
from eventsourcing.utils import get_topic

from greentic_session.domain.aggregate import EVENT_TOPICS, Session
from greentic_session.domain.errors import SessionError, invalid_input
from greentic_session.domain.event_shape import event_from_payload, redacted_payload
from greentic_session.domain.state import stream_id


class EventLines:
    def __init__(self, transcoder: Transcoder) -> None:
        self._transcoder = transcoder

    def line(self, position: int, event: Session.Event, key: str) -> str:
        """The event at `position` of the log, of the stream of session `key`. An erased
        event's line holds what the log holds of it: its redacted payload, its topic."""
        if isinstance(event, Session.Redacted):
            state = redacted_payload(event, event.erased_in, event.session_key)
            kind, topic = event.original.kind, event.original_topic
        else:
            state = dict(vars(event))
            del state["originator_id"], state["originator_version"]
            kind, topic = event.kind, get_topic(type(event))
        fields = {
            "position": position,
            "session_key": key,
            "stream_id": str(event.originator_id),
            "version": event.originator_version,
            "type": kind,
            "recorded_at": event.timestamp.isoformat(),
            "hash": event.hash,
            "prev_hash": event.prev_hash,
            "topic": topic,
            "state": json.loads(self._transcoder.encode(state)),
        }
        return json.dumps(fields) + "\n"

    def parse(self, number: int, line: str) -> Session.Event:
        """The event line `number` of a file holds; `SessionError(invalid_input)` naming the
        line if it is not one."""
        try:
            fields = json.loads(line)
            if fields["topic"] not in EVENT_TOPICS:
                raise ValueError(f"unknown event topic {fields['topic']!r}")
            payload = self._transcoder.decode(json.dumps(fields["state"]).encode())
            return event_from_payload(
                fields["topic"],
                stream_id(fields["session_key"]),
                int(fields["version"]),
                payload,
            )
        except (ValueError, KeyError, TypeError, SessionError) as exc:
            raise invalid_input(f"line {number} is not an exported event: {exc}") from exc
