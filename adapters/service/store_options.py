"""What `open_store` was asked for besides the URL, handed to whichever backend opens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from greentic_session.domain.rules import DEFAULT_MAX_CONTEXT_BYTES, Clock, utc_now


@dataclass(frozen=True)
class StoreOptions:
    clock: Clock = utc_now
    max_context_bytes: int = DEFAULT_MAX_CONTEXT_BYTES
    log_settings: Mapping[str, str] = field(default_factory=dict)
    """Extra settings of the eventsourcing log: the cipher's, when encrypted."""
