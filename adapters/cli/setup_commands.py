"""Setting a store up: its tables, the runtime role's rights, an encryption key."""

from __future__ import annotations

import click

from greentic_session.adapters.bootstrap.schema_setup import set_up_store
from greentic_session.adapters.cli.options import common_options, store_options
from greentic_session.adapters.cli.output import answer, emit_json
from greentic_session.adapters.storage.encryption import KEY_VARIABLE, new_key


@click.command()
@click.option(
    "--grant-to",
    metavar="ROLE",
    default=None,
    help="PostgreSQL role that will run the store: gets row rights only, no DDL",
)
@store_options
def setup(grant_to: str | None, url: str | None, as_json: bool) -> None:
    """Create the store's tables as their owner (run with an owner's URL), once."""
    done = set_up_store(url, grant_to)
    answer(as_json, {"done": done}, "\n".join(done))


@click.command()
@common_options
def keygen(as_json: bool) -> None:
    """Print a new random AES-256 key for encryption at rest."""
    key = new_key()
    if as_json:
        emit_json({"key": key, "variable": KEY_VARIABLE})
    else:
        click.echo(key)
    click.echo(f"keep it secret; give it to the store as {KEY_VARIABLE}", err=True)


COMMANDS = (setup, keygen)
