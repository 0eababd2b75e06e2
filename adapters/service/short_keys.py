"""Short session keys: a unique prefix of 8 characters or more stands for the key, as a
short hash does in git."""

from __future__ import annotations

from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.identifiers import SessionKey

MIN_PREFIX = 8
CANDIDATES_SHOWN = 10


def short(key: str) -> str:
    """How the tool shortens a key for people (the commands take it back)."""
    return key[:MIN_PREFIX]


def resolve_key(store: EventSourcedSessionStore, key: str) -> SessionKey:
    """`key` itself when the store has it (or it is too short to be a prefix, or nothing
    starts with it: the command then says there is no such session); else the one key
    it begins. One indexed lookup.

    Raises `SessionError(invalid_input)` when several keys begin with it, naming them."""
    found = store.keys_with_prefix(key, limit=CANDIDATES_SHOWN + 1)
    if key in found or len(key) < MIN_PREFIX or not found:
        return SessionKey(key)
    if len(found) == 1:
        return found[0]
    more = ", ..." if len(found) > CANDIDATES_SHOWN else ""
    listed = ", ".join(found[:CANDIDATES_SHOWN]) + more
    raise SessionError(
        ErrorCode.INVALID_INPUT,
        f"{key!r} begins more than one session key: {listed}; give more of the key",
    )
