"""Stored events parked in a temporary file between an import's check and its write.

The check pass encodes each event as the store will hold it (its cipher and compression
applied) and appends it here; the write pass reads them back in batches. So the events
are decoded once, the input is read once (a pipe or stdin works), and memory holds one
batch, whatever the file's length. Records are length-prefixed binary: the stream id's 16
bytes, the version, then the topic and the state.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO
from uuid import UUID

from eventsourcing.persistence import StoredEvent

_HEADER = struct.Struct("<16sqHI")  # stream id, version, topic length, state length


class EventSpool:
    """Over a binary temporary file the caller opens and closes (`spooled()`)."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self.count = 0

    def append(self, event: StoredEvent) -> None:
        stream = event.originator_id
        stream = stream if isinstance(stream, UUID) else UUID(stream)
        topic = event.topic.encode("utf-8")
        header = _HEADER.pack(stream.bytes, event.originator_version, len(topic), len(event.state))
        self._file.write(header + topic + event.state)
        self.count += 1

    def batches(self, size: int) -> Iterator[list[StoredEvent]]:
        """Every event appended, in order, `size` at a time (a single pass)."""
        self._file.seek(0)
        batch: list[StoredEvent] = []
        for _ in range(self.count):
            stream, version, topic_length, state_length = _HEADER.unpack(
                self._file.read(_HEADER.size)
            )
            topic = self._file.read(topic_length).decode("utf-8")
            state = self._file.read(state_length)
            batch.append(StoredEvent(UUID(bytes=stream), version, topic, state))
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


@contextmanager
def spooled() -> Iterator[EventSpool]:
    """A spool on a fresh temporary file, deleted when done (or if the process dies)."""
    with tempfile.TemporaryFile() as file:
        yield EventSpool(file)
