"""Where the app may listen: the loopback address by default; any other address lets other
machines read every session (tenants, users, context), so it needs a token. No web
framework is imported here: the command line checks this before the `ui` extra loads."""

from __future__ import annotations

from greentic_session.domain.errors import ErrorCode, SessionError

TOKEN_VARIABLE = "GREENTIC_SESSION_UI_TOKEN"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_binding(host: str, token: str | None) -> None:
    """Refuses to serve beyond this machine without a token.

    Raises `SessionError(invalid_input)` for a host other than a loopback one with no
    token, or for a blank token."""
    if token is not None and not token.strip():
        raise SessionError(ErrorCode.INVALID_INPUT, "the token is blank: give a real one")
    if host not in LOOPBACK_HOSTS and token is None:
        raise SessionError(
            ErrorCode.INVALID_INPUT,
            f"serving on {host} lets other machines read every session: give a token with "
            f"--token or ${TOKEN_VARIABLE} (or serve on {DEFAULT_HOST})",
        )
