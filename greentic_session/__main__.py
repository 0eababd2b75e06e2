"""`python -m greentic_session`: the command-line tool, as the `greentic-session` script."""

from greentic_session.adapters.cli.main import main

main()
