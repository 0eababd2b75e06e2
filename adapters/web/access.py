"""The token check: with a token (required off the loopback address, see `binding`), every
request must carry it, in a header or in the cookie a `?token=` link sets."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

COOKIE = "greentic_session_ui_token"

Next = Callable[[Request], Awaitable[Response]]


class TokenGate:
    """The check on every request: `Authorization: Bearer T`, or the cookie that a
    `?token=T` link sets (then the token leaves the address bar by a redirect)."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    async def __call__(self, request: Request, call_next: Next) -> Response:
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header[:7].lower() == "bearer " else None
        if self._matches(bearer) or self._matches(request.cookies.get(COOKIE)):
            return await call_next(request)
        if self._matches(request.query_params.get("token")):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            redirect = RedirectResponse(target, status_code=303)
            redirect.set_cookie(COOKIE, request.query_params["token"], httponly=True,
                                samesite="strict")
            return redirect
        return Response(
            "401 unauthenticated: this app needs its token (Authorization: Bearer T, "
            "or open it once with ?token=T)\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
