"""How an instant is written for people: one form everywhere, exact, and read back as is."""

from __future__ import annotations

from datetime import UTC, datetime


def instant_text(moment: datetime) -> str:
    """ISO 8601 in UTC to the microsecond with a trailing Z (`2025-01-01T12:05:00.000000Z`),
    the form JSON output uses too: pasted into `--at`, it names that very instant."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
