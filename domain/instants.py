"""How an instant is written for people: one form everywhere, exact, and read back as is."""

from __future__ import annotations

from datetime import UTC, datetime


def instant_text(moment: datetime) -> str:
    """ISO 8601 in UTC to the microsecond with a trailing Z (`2025-01-01T12:05:00.000000Z`),
    the form JSON output uses too: pasted into `--at`, it names that very instant. An
    instant that falls outside the years 1 to 9999 in UTC keeps its own offset."""
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:
        return moment.isoformat(timespec="microseconds")
    return in_utc.isoformat(timespec="microseconds").replace("+00:00", "Z")
