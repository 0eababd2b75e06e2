"""Setting a store up: its tables, the runtime role's rights, an encryption key."""

from __future__ import annotations

import click

from adapters.cli_options import store_options
from adapters.cli_output import answer
from adapters.encryption import KEY_VARIABLE, new_key
from adapters.setup import set_up_store


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
def keygen() -> None:
    """Print a new random AES-256 key for encryption at rest."""
    click.echo(new_key())
    click.echo(f"keep it secret; give it to the store as {KEY_VARIABLE}", err=True)


COMMANDS = (setup, keygen)
