"""The lines an archive adds to the export format: tombstones and digest trailers.

An archive file is export lines (`event_lines`), one stream's events after another, with
after each batch a trailer line `{"archive": {"digest": ..., ...}}` whose digest is the
SHA-256 of every byte of the file before it; the last trailer's digest is the archive's.
A stream archived a second time starts with its earlier tombstone line, so the file
imports into an empty store on its own. Exports of a store that archived start with its
tombstone lines. Neither kind holds session content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pydantic import ValidationError

from greentic_session.domain.audit import ArchivedStream
from greentic_session.domain.errors import invalid_input

TOMBSTONE, TRAILER = "tombstone", "archive"


@dataclass(frozen=True, slots=True)
class Trailer:
    """A checkpoint of an archive file: the digest of the lines before it, and counts."""

    digest: str
    streams: int
    events: int


def tombstone_line(tombstone: ArchivedStream) -> str:
    return json.dumps({TOMBSTONE: tombstone.model_dump(mode="json")}) + "\n"


def trailer_line(trailer: Trailer) -> str:
    fields = {"digest": trailer.digest, "streams": trailer.streams, "events": trailer.events}
    return json.dumps({TRAILER: fields}) + "\n"


def special(number: int, line: str) -> ArchivedStream | Trailer | None:
    """The tombstone or trailer line `number` holds, None for any other line (an event);
    `SessionError(invalid_input)` for one that starts as such a line and is not."""
    if not line.startswith((f'{{"{TOMBSTONE}"', f'{{"{TRAILER}"')):
        return None
    try:
        fields = json.loads(line)
        if TOMBSTONE in fields:
            return ArchivedStream.model_validate(fields[TOMBSTONE])
        body = fields[TRAILER]
        return Trailer(str(body["digest"]), int(body["streams"]), int(body["events"]))
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise invalid_input(f"line {number} is not a tombstone or archive trailer: {exc}") from exc


class LineDigest:
    """The running SHA-256 of the lines of a file, as trailers name it."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def add(self, line: str) -> None:
        self._sha.update(line.encode("utf-8"))

    @property
    def hex(self) -> str:
        return self._sha.hexdigest()

    def copy(self) -> LineDigest:
        other = LineDigest()
        other._sha = self._sha.copy()
        return other
