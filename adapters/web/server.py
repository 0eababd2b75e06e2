"""Serving the app: the store opened read-only, then uvicorn on the address asked for,
until interrupted."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn

from greentic_session.adapters.bootstrap.open_store import open_store
from greentic_session.adapters.web.app import web_app
from greentic_session.adapters.web.binding import check_binding


def serve(
    url: str | None, host: str, port: int, token: str | None, ready: Callable[[str], None]
) -> None:
    """Serves the store at `url` on `host:port`; `ready` gets the app's address once the
    store is open, just before the server starts.

    Raises `SessionError`: `invalid_input` for a host off the loopback address without a
    token; what `open_store(url, create=False)` raises (`not_found` when there is no store)."""
    check_binding(host, token)
    with open_store(url, create=False) as store:
        config = uvicorn.Config(web_app(store, token=token), host=host, port=port,
                                log_level="warning", access_log=False)
        shown = f"[{host}]" if ":" in host else host
        ready(f"http://{shown}:{port}/")
        uvicorn.Server(config).run()
