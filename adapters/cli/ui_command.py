"""`greentic-session ui`: the read-only web app, from the optional `ui` extra."""

from __future__ import annotations

import json

import click

from greentic_session.adapters.cli.options import store_options
from greentic_session.adapters.cli.output import say
from greentic_session.adapters.web.binding import DEFAULT_HOST, DEFAULT_PORT, TOKEN_VARIABLE
from greentic_session.domain.errors import ErrorCode, SessionError

EXTRA = "pip install 'greentic-session[ui]'"


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="address to listen on; any but the loopback needs --token")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--token", envvar=TOKEN_VARIABLE, default=None, metavar="T",
              help=f"every request must carry it (Bearer header, or ?token=T once); "
                   f"default ${TOKEN_VARIABLE}")
@store_options
def ui(url: str | None, host: str, port: int, token: str | None, as_json: bool) -> None:
    """Serve the read-only web app on the store: find sessions, see a session's timeline
    and diffs, explain where a reply goes, verify the log. Runs until interrupted; with
    --json it prints {"url": ...} once it is serving."""
    try:
        from greentic_session.adapters.web.server import serve
    except ImportError as exc:
        raise SessionError(
            ErrorCode.NOT_FOUND,
            f"the web app needs the ui extra ({exc.name or exc} is not installed): {EXTRA}",
        ) from None

    def ready(address: str) -> None:
        if as_json:  # one line, so a script can read it while the app serves
            click.echo(json.dumps({"url": address}))
        else:
            say(f"serving {address} (read-only; Ctrl-C stops it)")

    serve(url, host, port, token, ready)


COMMANDS = (ui,)
