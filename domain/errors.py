"""Error codes of the contract: every failure a caller sees is a `SessionError`."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """The Greentic error codes; the string values are the wire form."""

    UNKNOWN = "unknown"
    INVALID_INPUT = "invalid_input"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TIMEOUT = "timeout"
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class SessionError(Exception):
    """A store failure with a machine-readable code and a message that says what to do.

    Deliberately not a `ValueError`: raised inside a pydantic validator it reaches the
    caller unchanged, so bad identifiers give the same error inside and outside models.
    """

    def __init__(self, code: ErrorCode | str, message: str) -> None:
        self.code = ErrorCode(code)
        self.message = message
        super().__init__(f"{self.code.value}: {message}")

    def __reduce__(self) -> tuple[type[SessionError], tuple[str, str]]:
        return (type(self), (self.code.value, self.message))


def invalid_input(message: str) -> SessionError:
    return SessionError(ErrorCode.INVALID_INPUT, message)


def not_found(key: str) -> SessionError:
    return SessionError(ErrorCode.NOT_FOUND, f"session {key} was not found")


def conflict(message: str) -> SessionError:
    return SessionError(ErrorCode.CONFLICT, message)
