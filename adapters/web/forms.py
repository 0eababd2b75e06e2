"""What the pages' forms send, read as the store's arguments: empty fields are left out,
times are ISO 8601 (a trailing Z or no offset means UTC, as on the command line), and a
value the store cannot take is `invalid_input`, shown as a 400 page."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from greentic_session.domain.errors import invalid_input


def text(params: QueryParams, name: str) -> str | None:
    """The field's value, stripped; None when it is missing or blank."""
    value = params.get(name, "").strip()
    return value or None


def instant(params: QueryParams, name: str) -> datetime | None:
    """An ISO 8601 instant in UTC, or None for an empty field.

    Raises `SessionError(invalid_input)` for text that is not one."""
    value = text(params, name)
    if value is None:
        return None
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid_input(
            f"{name}={value!r} is not an ISO 8601 time (e.g. 2030-01-01T12:00:00Z)"
        ) from None


def whole(params: QueryParams, name: str, default: int, low: int = 1, high: int = 500) -> int:
    """A whole number from `low` to `high`, `default` for an empty field.

    Raises `SessionError(invalid_input)` for anything else."""
    value = text(params, name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise invalid_input(f"{name}={value!r}: give a whole number from {low} to {high}")
    return int(value)
