"""Whose data an erasure removes, and why: the arguments of `erase`, checked.

An erasure is by session key, or by whose sessions they are: a tenant (in an env), a
team of it, or a user of it, matched as `find_sessions` matches, against each session's
last life.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from greentic_session.domain.aggregate import Session
from greentic_session.domain.errors import invalid_input
from greentic_session.domain.identifiers import (
    EnvId,
    SessionKey,
    TeamId,
    TenantId,
    UserId,
    check_text,
)
from greentic_session.domain.session_search import SessionQuery

MAX_REASON_CHARS = 1000

ERASE_PAGE = 100
"""Sessions looked up at a time for an erasure by tenant, team or user."""


@dataclass(frozen=True, slots=True)
class ErasureSubject:
    """One session, or the sessions of a tenant, a team or a user."""

    session: SessionKey | None = None
    query: SessionQuery | None = None

    @classmethod
    def of(
        cls,
        *,
        session: object = None,
        env: object = None,
        tenant: object = None,
        team: object = None,
        user: object = None,
    ) -> ErasureSubject:
        """Raises `SessionError(invalid_input)` unless exactly one of a session key, or
        an env and a tenant (with a team or a user, or both), is given."""
        owner = (env, tenant, team, user)
        if session is not None:
            if any(part is not None for part in owner):
                raise invalid_input(
                    "erase takes a session, or an env and a tenant (and a team or a user), not both"
                )
            return cls(session=SessionKey(session))
        if env is None or tenant is None:
            raise invalid_input(
                "erase needs whose data: a session key, or an env and a tenant (with a team "
                "or a user to narrow it)"
            )
        query = SessionQuery.of(
            env=EnvId(env),
            tenant=TenantId(tenant),
            team=None if team is None else TeamId(team),
            user=None if user is None else UserId(user),
            limit=ERASE_PAGE,
        )
        return cls(query=query)


def reason_arg(reason: object) -> str:
    """The erasure's reason, which the log keeps in clear: so it must say why (a ticket,
    a request number), never whose data it was.

    Raises `SessionError(invalid_input)` for an empty or over-long reason."""
    if not isinstance(reason, str) or not reason.strip():
        raise invalid_input("erase needs a reason: a non-empty str (a request or ticket id)")
    if len(reason) > MAX_REASON_CHARS:
        raise invalid_input(f"the reason is over {MAX_REASON_CHARS} characters")
    if "\x00" in reason:
        raise invalid_input("the reason must not hold NUL")
    return check_text(reason, "reason")


def to_erase(stream: Sequence[Session.Event]) -> list[Session.Event]:
    """The events of a stream (in version order) that an erasure now erases: those after
    its last erasure (the ones before it are erased already, or are that erasure)."""
    last = max(
        (i for i, event in enumerate(stream) if isinstance(event, Session.Erased)), default=-1
    )
    return list(stream[last + 1 :])
