"""Finding sessions: the query `find_sessions` answers, its page, and the one rule that
says which state a session is in.

An operator starts from a tenant, a user, a conversation or a time, not from a key: the
store keeps one summary row per session key (its last life) and pages over it, most
recently updated first, never reading the log.
"""

from __future__ import annotations

import binascii
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict

from greentic_session.domain.errors import invalid_input
from greentic_session.domain.identifiers import (
    EnvId,
    SessionKey,
    TeamId,
    TenantId,
    UserId,
    check_text,
)
from greentic_session.domain.rules import is_expired

SessionStateFilter = Literal["waiting", "live", "ended", "expired", "any"]
SummaryState = Literal["waiting", "live", "ended", "expired"]
RecordedStatus = Literal["live", "ended", "expired"]
"""What the log says of a key's last life: live, ended (cleared or removed) or expired
(its expiry recorded). Whether a live one is past its deadline is decided at query time."""

MAX_PAGE = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """An instant as whole microseconds since the epoch: how the index orders and cursors
    name it, exactly on every backend."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def summary_state(
    status: RecordedStatus, waiting: bool, expires_at: datetime | None, now: datetime
) -> SummaryState:
    """The rule, written once: `expired` once its deadline has passed (recorded by a sweep
    or a later write, or not yet: `expires_at` against `now`), `ended` when cleared or
    removed and not live again, `waiting` when live with a wait, else `live`."""
    if status == "expired" or (status == "live" and is_expired(expires_at, now)):
        return "expired"
    if status == "ended":
        return "ended"
    return "waiting" if waiting else "live"


def matches_state(wanted: SessionStateFilter, state: SummaryState) -> bool:
    """`live` takes waiting sessions too (live with or without a wait); `any` takes all."""
    return wanted == "any" or wanted == state or (wanted == "live" and state == "waiting")


class SessionSummary(BaseModel):
    """One session as `find_sessions` lists it: who it belongs to, where it waits, its state."""

    model_config = ConfigDict(frozen=True)

    session_key: SessionKey
    env: str
    tenant: str
    team: str | None
    user: str | None
    flow: str | None
    conversation: str | None
    """The conversation of the reply scope of its (last) wait; None if it never waited."""
    state: SummaryState
    version: int
    """The version of the last event of the key's stream (as `read_session` reports)."""
    updated_at: AwareDatetime
    """When its last event was recorded."""
    expires_at: AwareDatetime | None


class SessionPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    sessions: list[SessionSummary]
    next: str | None
    """An opaque cursor: pass it as `after` for the next page; None on the last page."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the last summary's update time (microseconds) and key."""

    updated_at: int
    session_key: str

    def encode(self) -> str:
        raw = f"{self.updated_at}:{self.session_key}".encode()
        return urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        if not isinstance(text, str):
            raise invalid_input(f"after must be a cursor (str), got {type(text).__name__}")
        try:
            raw = urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
            micros, key = raw.split(":", 1)
            return cls(int(micros), str(SessionKey(key)))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise invalid_input(
                "after is not a cursor this store gave: pass the `next` of the page before"
            ) from exc


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """The filters of `find_sessions`, checked: identifiers as text, None where not given."""

    env: str | None = None
    tenant: str | None = None
    team: str | None = None
    user: str | None = None
    flow: str | None = None
    conversation: str | None = None
    state: SessionStateFilter = "any"
    updated_since: datetime | None = None
    updated_before: datetime | None = None
    limit: int = 50
    after: Cursor | None = None

    @classmethod
    def of(
        cls,
        *,
        env: object = None,
        tenant: object = None,
        team: object = None,
        user: object = None,
        flow: object = None,
        conversation: object = None,
        state: object = "any",
        updated_since: object = None,
        updated_before: object = None,
        limit: object = 50,
        after: object = None,
    ) -> SessionQuery:
        """Raises `SessionError(invalid_input)` for a bad identifier, state, instant, limit
        or cursor, saying which."""
        return cls(
            env=None if env is None else str(EnvId(env)),
            tenant=None if tenant is None else str(TenantId(tenant)),
            team=None if team is None else str(TeamId(team)),
            user=None if user is None else str(UserId(user)),
            flow=_text_arg(flow, "flow"),
            conversation=_text_arg(conversation, "conversation", nul=True),
            state=_state_arg(state),
            updated_since=_instant_arg(updated_since, "updated_since"),
            updated_before=_instant_arg(updated_before, "updated_before"),
            limit=_limit_arg(limit),
            after=None if after is None else Cursor.decode(after),  # type: ignore[arg-type]
        )


def _text_arg(value: object, name: str, *, nul: bool = False) -> str | None:
    """`nul`: whether the text may hold NUL, as a reply scope's conversation may."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or (not nul and "\x00" in value):
        raise invalid_input(f"{name} must be a non-empty str" + ("" if nul else " without NUL"))
    return check_text(value, name)


def _state_arg(value: object) -> SessionStateFilter:
    choices: tuple[SessionStateFilter, ...] = get_args(SessionStateFilter)
    for choice in choices:
        if value == choice:
            return choice
    raise invalid_input(f"state must be one of {', '.join(choices)}; got {value!r}")


def _instant_arg(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise invalid_input(f"{name} must be a timezone-aware datetime")
    return value


def _limit_arg(value: object) -> int:
    if type(value) is not int or not 1 <= value <= MAX_PAGE:
        raise invalid_input(f"limit must be a whole number from 1 to {MAX_PAGE}; got {value!r}")
    return value
