"""The hash chain that makes edits to the log evident.

Each event's `hash` is a SHA-256 over its envelope (stream, version, type, time), the hash
of the event before it in its stream (`prev_hash`), and a *commitment* to its body: the
SHA-256 of the body with a random salt that is stored with the body. The chain never needs
the body itself, so erasing a subject removes bodies (and salts) and the chain still
verifies: the commitment stays, and without the salt it reveals nothing of what it
committed to. Events of 0.1.0 have no commitment: their hash covers the body directly
(`event_hash`), so once erased their hash can no longer be recomputed, only followed.

Altering, deleting, swapping or inserting an event breaks the chain at that point; the
store also keeps each stream's head (last version and hash) beside the log, so a deleted
tail or a whole deleted stream shows too. Chains are per stream, so writers of different
sessions never wait for each other to extend one global chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

GENESIS = ""
"""`prev_hash` of a stream's first event."""

ENVELOPE_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
        "prev_hash",
        "hash",
        "salt",
        "commitment",
    }
)
"""Event attributes hashed through their own slots in the content, not as the body."""


def event_hash(
    stream: UUID,
    version: int,
    event_type: str,
    recorded_at: datetime,
    prev_hash: str,
    body: Mapping[str, Any],
) -> str:
    """The hash of an event of 0.1.0 (no commitment): its canonical content, body and link
    to `prev_hash` included.

    Raises `TypeError` for a body value JSON cannot hold (datetimes are written ISO 8601)."""
    return _sha256({**_envelope(stream, version, event_type, recorded_at, prev_hash), "body": body})


def body_commitment(salt: str, body: Mapping[str, Any]) -> str:
    """The SHA-256 of an event's body with its salt: what the event's hash covers in place
    of the body. The salt (random, stored with the body and erased with it) keeps a guess
    of a short body (a user id, an empty trace) from being confirmed against it.

    Raises `TypeError` for a body value JSON cannot hold."""
    return _sha256({"salt": salt, "body": body})


def envelope_hash(
    stream: UUID,
    version: int,
    event_type: str,
    recorded_at: datetime,
    prev_hash: str,
    commitment: str,
) -> str:
    """The hash of an event that has a commitment: its envelope, its link, its commitment."""
    envelope = _envelope(stream, version, event_type, recorded_at, prev_hash)
    return _sha256({**envelope, "commitment": commitment})


def _envelope(
    stream: UUID, version: int, event_type: str, recorded_at: datetime, prev_hash: str
) -> dict[str, Any]:
    return {
        "stream": str(stream),
        "version": version,
        "type": event_type,
        "recorded_at": recorded_at.isoformat(),
        "prev_hash": prev_hash,
    }


def _sha256(content: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _plain(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash a {type(value).__name__}")


class Break(StrEnum):
    """How an event fails to be the next link of its stream's chain."""

    MISSING = "missing"  # its version skips ahead: the events between were deleted
    REORDERED = "reordered"  # a version its stream already reached: out of order in the log
    UNLINKED = "unlinked"  # prev_hash is not the previous event's hash: inserted, swapped
    ALTERED = "altered"  # its content does not hash to its `hash`: edited


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One break, with what it takes to name it: verify and import word it differently."""

    kind: Break
    after: int
    """The highest version the event's stream had reached before it (0: none)."""


class ChainedEvent(Protocol):
    """What the chain rule reads of an event: its place, its hashes, its content's hash."""

    @property
    def originator_id(self) -> UUID: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...
    def content_hash(self) -> str: ...


class StreamChain:
    """The chain rule, for one stream fed its events in log order: versions run 1, 2, 3…,
    the first event links to GENESIS and each later one to the hash of the one before it,
    and each event's content hashes to its `hash`. The one checker of the rule: verify
    reports every problem, export and import stop at the first (`ChainCheck`)."""

    __slots__ = ("hash", "version")  # one per stream in `verify`: kept small

    def __init__(self) -> None:
        self.version = 0  # the highest version seen
        self.hash = GENESIS  # the hash of the last event followed

    def follow(self, event: ChainedEvent) -> list[ChainProblem]:
        """What is wrong with `event` as the next link (nothing: it is sound); it becomes
        the stream's head either way, so the next event is checked against it."""
        version, after = event.originator_version, self.version
        problems = []
        if version > after + 1:
            problems.append(ChainProblem(Break.MISSING, after))
        elif version <= after:
            problems.append(ChainProblem(Break.REORDERED, after))
        elif event.prev_hash != self.hash:
            problems.append(ChainProblem(Break.UNLINKED, after))
        if event.content_hash() != event.hash:
            problems.append(ChainProblem(Break.ALTERED, after))
        self.skip(version)
        self.hash = event.hash
        return problems

    def resume(self, version: int, hash_: str) -> None:
        """Start from an archived prefix: its last version and hash (the tombstone's), as
        if its events had been followed."""
        self.version = version
        self.hash = hash_

    def skip(self, version: object) -> None:
        """An event at `version` that cannot be read: its place counts, its hash is unknown.
        A version that is not a whole number (a damaged row) has no place."""
        if isinstance(version, int) and not isinstance(version, bool):
            self.version = max(self.version, version)


class BrokenChain(ValueError):
    """An event that does not match its hash or does not follow the one before it."""


class ChainCheck:
    """Events of any streams in log order, for a log that must be whole (export, import)."""

    def __init__(self) -> None:
        self._streams: dict[UUID, StreamChain] = {}

    def resume(self, stream: UUID, version: int, hash_: str) -> None:
        """The stream's events before `version` + 1 were archived: its next event links to
        `hash_`."""
        self._streams.setdefault(stream, StreamChain()).resume(version, hash_)

    def check(self, event: ChainedEvent) -> None:
        """Raises `BrokenChain`, naming the event, if it breaks its stream's chain."""
        problems = self._streams.setdefault(event.originator_id, StreamChain()).follow(event)
        if problems:
            name = f"{event.originator_id} v{event.originator_version}"
            first = problems[0]
            if first.kind is Break.ALTERED:
                raise BrokenChain(f"{name} does not match its hash")
            raise BrokenChain(f"{name} does not follow v{first.after}")
