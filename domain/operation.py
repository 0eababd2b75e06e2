"""One write as the log records it: when it happened and on whose behalf.

Every event a write records carries both, so an auditor can answer "who changed this
session, when, and under which trace" from the log alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from greentic_session.domain.tenant import TenantCtx

Trace = dict[str, str]
"""The caller's `trace_id`, `correlation_id`, `provider_id` and `actor` (its user), when set."""


def trace_of(ctx: TenantCtx | None) -> Trace:
    if ctx is None:
        return {}
    found = {
        "trace_id": ctx.trace_id,
        "correlation_id": ctx.correlation_id,
        "provider_id": ctx.provider_id,
        "actor": ctx.user_id or ctx.user,
    }
    return {name: str(value) for name, value in found.items() if value is not None}


@dataclass(frozen=True, slots=True)
class Operation:
    """`now` is the store's clock when the write began; it stamps every event it records."""

    now: datetime
    trace: Trace = field(default_factory=dict)
