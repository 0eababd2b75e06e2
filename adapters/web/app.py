"""The operator's web app: a Starlette application over an opened store, read-only.

Routes: `/` finds sessions, `/sessions/{key}` draws one's story and `/sessions/{key}/diff`
compares two of its versions, `/scopes` explains where a reply goes, `/verify` checks the
log. Every asset comes from `static/` in this package: nothing is fetched elsewhere."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from greentic_session.adapters.service.session_store import EventSourcedSessionStore
from greentic_session.adapters.web import pages, search_page
from greentic_session.adapters.web.access import TokenGate
from greentic_session.adapters.web.rendering import (
    HERE,
    http_error,
    session_error,
    unexpected_error,
)
from greentic_session.domain.errors import SessionError


def web_app(store: EventSourcedSessionStore, *, token: str | None = None) -> Starlette:
    """The app over `store` (opened by the caller, with `create=False`, and closed by it);
    with a `token`, every request must carry it."""
    routes = [
        Route("/", search_page.search, name="search"),
        Route("/sessions/{key:path}/diff", pages.diff_page, name="diff"),
        Route("/sessions/{key:path}", pages.session_page, name="session"),
        Route("/scopes", pages.scopes_page, name="scopes"),
        Route("/verify", pages.verify_page, name="verify"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    gate = [] if token is None else [Middleware(BaseHTTPMiddleware, dispatch=TokenGate(token))]
    app = Starlette(
        routes=routes,
        middleware=gate,
        exception_handlers={
            SessionError: session_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
    )
    app.state.store = store
    return app
