"""Templates and error pages: every page is rendered on the server from the package's own
templates (autoescaped: session data is user text), and every failure is a page with its
code, its message and the status that code means, never a traceback."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from greentic_session.adapters.service.short_keys import short
from greentic_session.domain.errors import ErrorCode, SessionError
from greentic_session.domain.instants import instant_text
from greentic_session.domain.json_text import pretty_json

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
STATUS = {
    ErrorCode.INVALID_INPUT: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
}
"""Every other code (internal, unknown) is a 500."""


def when(instant: datetime | None) -> str:
    return "-" if instant is None else instant_text(instant)


TEMPLATES.globals.update(short=short, when=when)
TEMPLATES.filters["pretty_json"] = pretty_json


def render(request: Request, name: str, status: int = 200, **values: Any) -> Response:
    page = TEMPLATES.get_template(name).render(request=request, **values)
    return HTMLResponse(page, status_code=status)


async def session_error(request: Request, exc: Exception) -> Response:
    """A `SessionError` as a page: its code, its message, the status its code means."""
    assert isinstance(exc, SessionError)
    status = STATUS.get(exc.code, 500)
    return render(request, "error.html", status, code=exc.code.value, message=exc.message)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = ErrorCode.NOT_FOUND.value if exc.status_code == 404 else "http"
    return render(request, "error.html", exc.status_code, code=code, message=str(exc.detail))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """A bug, or a log edited behind the store's back: logged, and a page that says so."""
    logger.exception("unexpected error on %s", request.url.path)
    message = f"{type(exc).__name__}: {exc} (if the log may have been edited, run verify)"
    return render(request, "error.html", 500, code=ErrorCode.INTERNAL.value, message=message)
