"""What `open_store` was asked for besides the URL and the key: how the store decides."""

from __future__ import annotations

from dataclasses import dataclass

from greentic_session.domain.rules import DEFAULT_MAX_CONTEXT_BYTES, Clock, utc_now


@dataclass(frozen=True)
class StoreOptions:
    clock: Clock = utc_now
    max_context_bytes: int = DEFAULT_MAX_CONTEXT_BYTES
