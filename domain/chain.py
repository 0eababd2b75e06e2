"""The hash chain that makes edits to the log evident.

Each event's `hash` is a SHA-256 over its canonical content, which includes the hash of
the event before it in its stream (`prev_hash`). Altering, deleting, swapping or
inserting an event breaks the chain at that point; the store also keeps each stream's
head (last version and hash) beside the log, so a deleted tail or a whole deleted stream
shows too. Chains are per stream, so writers of different sessions never wait for each
other to extend one global chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

GENESIS = ""
"""`prev_hash` of a stream's first event."""

ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "prev_hash", "hash"}
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
    content = {
        "stream": str(stream),
        "version": version,
        "type": event_type,
        "recorded_at": recorded_at.isoformat(),
        "prev_hash": prev_hash,
        "body": body,
    }
    canonical = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _plain(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash a {type(value).__name__}")
