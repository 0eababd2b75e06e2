"""How an event's payload is stored, both ways: the log's own transcoder, compressor and
cipher (the library's `Mapper`), and for an erased event its redacted payload under the
topic it always had (the library's mapper would store it under the class it reads as).

The one place the store turns payloads into stored bytes and back: reading for the
tools, writing an import, and redacting for an erasure all go through it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from greentic_session.domain.aggregate import Session
from greentic_session.domain.event_shape import redacted_payload


class StoredForm:
    def __init__(self, mapper: Mapper[UUID]) -> None:
        self._mapper = mapper

    def payload(self, state: bytes) -> tuple[Any, bool]:
        """The payload stored as `state`, and whether `state` is byte for byte what the
        transcoder writes for it (a reformatted payload reads the same but is a change).

        Raises whatever the cipher or transcoder raise on bytes that are not theirs."""
        mapper = self._mapper
        if mapper.cipher is not None:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor is not None:
            state = mapper.compressor.decompress(state)
        payload = mapper.transcoder.decode(state)
        return payload, mapper.transcoder.encode(payload) == state

    def state(self, payload: dict[str, Any]) -> bytes:
        """The stored bytes of `payload`, as the mapper writes an event's."""
        mapper = self._mapper
        state = mapper.transcoder.encode(payload)
        if mapper.compressor is not None:
            state = mapper.compressor.compress(state)
        if mapper.cipher is not None:
            state = mapper.cipher.encrypt(state)
        return state

    def redacted_state(self, event: Session.Event, erased_in: int, session_key: str) -> bytes:
        """The stored bytes `event` becomes when the erasure at version `erased_in` of
        session `session_key` erases it."""
        return self.state(redacted_payload(event, erased_in, session_key))

    def stored_event(self, event: Session.Event) -> StoredEvent:
        """`event` as the log stores it (an erased one: its redacted payload, its topic)."""
        if not isinstance(event, Session.Redacted):
            return self._mapper.to_stored_event(event)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=event.original_topic,
            state=self.redacted_state(event, event.erased_in, event.session_key),
        )
